"""The controller <-> worker-process channel: length-prefixed pickled messages on a socketpair.

Both ends are our own processes (pickle is safe here). Messages:
controller -> worker: ("share", WorkerShare), ("beat", stop_requested: bool)
worker -> controller: ("window", LoadWindow), ("done", next_seq: int), ("error", message: str)
"""

from __future__ import annotations

import pickle
import struct
from typing import Any

_HEADER = struct.Struct("!I")
MAX_MESSAGE_BYTES = 16 * 1024 * 1024


def frame(message: tuple[Any, ...]) -> bytes:
    payload = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    return _HEADER.pack(len(payload)) + payload


class FrameReader:
    """Splits a byte stream into messages; `feed()` returns the complete ones."""

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, data: bytes) -> list[tuple[Any, ...]]:
        self._buffer += data
        messages: list[tuple[Any, ...]] = []
        while len(self._buffer) >= _HEADER.size:
            (size,) = _HEADER.unpack_from(self._buffer)
            if size > MAX_MESSAGE_BYTES:
                raise ValueError(f"channel message of {size} bytes exceeds the limit")
            if len(self._buffer) < _HEADER.size + size:
                break
            payload = bytes(self._buffer[_HEADER.size : _HEADER.size + size])
            del self._buffer[: _HEADER.size + size]
            messages.append(pickle.loads(payload))
        return messages
