"""Breaking one upstream event stream on purpose: forward its events until the fault's
point (after N content events, or at the completion marker, whichever comes first), then
an in-band error, the end of the message, or a stall."""

from __future__ import annotations

from collections.abc import AsyncIterator

import anyio

from chaos.faultproxy.switch import StreamFault
from chaos.faultproxy.wire import EVENT_CONTENT, EVENT_DONE, EVENT_OTHER, Wire
from chaos.protocols import SseDecoder
from chaos.protocols.sse import MAX_EVENT_BYTES


class EventSplitter:
    """Body bytes in any split -> whole events (their raw lines, ending in a blank line).
    Line ends are normalised to LF, which every SSE reader accepts."""

    __slots__ = ("_buf", "_cr")

    def __init__(self) -> None:
        self._buf = b""
        self._cr = False  # the last piece ended in CR: its LF may start the next one

    def feed(self, data: bytes) -> list[bytes]:
        if self._cr:
            data, self._cr = b"\r" + data, False
        if data.endswith(b"\r"):
            data, self._cr = data[:-1], True
        if b"\r" in data:
            data = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        parts = (self._buf + data).split(b"\n\n")
        self._buf = parts.pop()
        if len(self._buf) > MAX_EVENT_BYTES:  # not a chat stream: pass the bytes on as they are
            parts.append(self._buf)
            self._buf = b""
        return [p + b"\n\n" for p in parts if p.strip(b"\n")]

    def rest(self) -> bytes:
        """Bytes of an event whose blank line never came (the body ended)."""
        rest, self._buf = self._buf + (b"\r" if self._cr else b""), b""
        self._cr = False
        return rest


class StreamBreaker:
    """Decides, event by event, where the stream breaks. Pure: no I/O, no clock."""

    def __init__(self, fault: StreamFault, wire: Wire) -> None:
        self.fault = fault
        self._wire = wire
        self._splitter = EventSplitter()
        self._left = fault.after_chunks  # content events still to forward
        self._kind = EVENT_OTHER
        self._decoder = SseDecoder(self._on_event)
        self.broken = False
        self.content_forwarded = 0

    def _on_event(self, name: bytes | None, data: bytes) -> None:
        self._kind = max(self._kind, self._wire.event_kind(name, data))

    def _classify(self, event: bytes) -> int:
        self._kind = EVENT_OTHER
        self._decoder.feed(event)
        return self._kind

    def feed(self, data: bytes) -> bytes:
        """The bytes to forward from this read; `broken` is True once the break point came
        (nothing after it is forwarded)."""
        if self.broken:
            return b""
        out: list[bytes] = []
        for event in self._splitter.feed(data):
            kind = self._classify(event)
            if kind == EVENT_DONE or (kind == EVENT_CONTENT and self._left == 0):
                self.broken = True
                break
            out.append(event)
            if kind == EVENT_CONTENT:
                self._left -= 1
                self.content_forwarded += 1
                if self._left == 0:
                    self.broken = True
                    break
        return b"".join(out)

    def end(self) -> bytes:
        """The upstream body ended before the break point: what is left to forward (the
        break then happens here)."""
        if self.broken:
            return b""
        self.broken = True
        return self._splitter.rest()

    def tail(self) -> bytes:
        """What follows the break point: the in-band error event, or nothing."""
        if self.fault.stream == "error":
            return self._wire.error_event(self.fault.code or "overloaded_error")
        return b""


async def break_stream(body: AsyncIterator[bytes], breaker: StreamBreaker, *,
                       stall_bound_s: float) -> AsyncIterator[bytes]:
    """The faulted body: upstream events up to the break point, then the fault. The caller
    closes the upstream response when this ends (the rest of it is never read)."""
    async for data in body:
        out = breaker.feed(data)
        if out:
            yield out
        if breaker.broken:
            break
    else:
        out = breaker.end()
        if out:
            yield out
    tail = breaker.tail()
    if tail:
        yield tail
    if breaker.fault.stream == "stall":
        # The client leaving cancels this (the proxy watches for its disconnect); the bound
        # ends it otherwise, as a truncated stream.
        await anyio.sleep(stall_bound_s)
