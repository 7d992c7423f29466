"""The local worker process: uvloop, the channel to the controller, and `worker.run` inside.

    python -m chaos.load.process <socket fd>

The process ignores SIGINT (a Ctrl-C reaches the whole process group; the controller
decides how the run ends and tells the worker), reads its `WorkerShare` from the channel,
and ships every window back as soon as it is emitted, without blocking on the write.
"""

from __future__ import annotations

import asyncio
import signal
import socket
import sys
import time
from typing import Any

from chaos.console import install_redacting_streams
from chaos.errors import ChaosError
from chaos.gcpacing import GCPacing
from chaos.load.channel import FrameReader, frame
from chaos.load.worker import StopSignal, WorkerShare, run
from chaos.recording import LoadWindow
from chaos.redact import register_request

DRAIN_TIMEOUT_S = 5.0


class _ControlProtocol(asyncio.Protocol):
    """Hears heartbeats and stop requests from the controller."""

    def __init__(self, stop: StopSignal) -> None:
        self.stop = stop
        self.reader = FrameReader()
        self.transport: asyncio.Transport | None = None
        self.lost = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop transports are duck-typed

    def data_received(self, data: bytes) -> None:
        for message in self.reader.feed(data):
            if message[0] == "beat":
                self.stop.heard()
                if message[1]:
                    self.stop.request()

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True  # the controller is gone: silence ends the worker via its heartbeat


def _read_share(sock: socket.socket) -> WorkerShare:
    """Read exactly the first message (the share), leaving later bytes to the protocol."""
    header = _recv_exactly(sock, 4)
    payload = _recv_exactly(sock, int.from_bytes(header, "big"))
    (message,) = FrameReader().feed(header + payload)
    if message[0] != "share" or not isinstance(message[1], WorkerShare):
        raise ChaosError(f"expected the worker share first, got {message[0]!r}")
    return message[1]


def _recv_exactly(sock: socket.socket, size: int) -> bytes:
    data = bytearray()
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise ChaosError("controller closed the channel before sending the worker share")
        data += chunk
    return bytes(data)


async def _main(sock: socket.socket, share: WorkerShare) -> None:
    loop = asyncio.get_running_loop()
    stop = StopSignal()
    transport, protocol = await loop.connect_accepted_socket(lambda: _ControlProtocol(stop), sock)

    def send(message: tuple[Any, ...]) -> None:
        if not protocol.lost:
            transport.write(frame(message))

    def emit(window: LoadWindow) -> None:
        send(("window", window))

    # Full collections on a clock, not by allocation: at 5,000 streams CPython's own schedule
    # walked the worker's whole heap for ~80 ms during the ramp-up (a saturated window). The hot
    # path makes almost no cyclic garbage that outlives the young generations, so rare full
    # collections suffice; one that does pause the loop shows in the window's lag, as any stall.
    pacing = GCPacing()
    pacing.install()
    paced = asyncio.ensure_future(pacing.run_forever())
    last_seq = 0

    def counting_emit(window: LoadWindow) -> None:
        nonlocal last_seq
        last_seq = window.seq + 1
        emit(window)

    try:
        await run(share, counting_emit, stop)
    except ChaosError as exc:
        send(("error", str(exc)))
        raise
    finally:
        paced.cancel()
        send(("done", last_seq))
        deadline = time.monotonic() + DRAIN_TIMEOUT_S
        while transport.get_write_buffer_size() > 0 and time.monotonic() < deadline and not protocol.lost:  # noqa: ASYNC110  # transports offer no drain event
            await asyncio.sleep(0.01)
        transport.close()


def main(argv: list[str]) -> int:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    sock = socket.socket(fileno=int(argv[0]))
    share = _read_share(sock)
    register_request(share.config.token_template, share.config.headers)
    install_redacting_streams()  # a traceback on stderr carries no token
    import uvloop

    try:
        uvloop.run(_main(sock, share))
    except ChaosError:
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
