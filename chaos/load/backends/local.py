"""The local backend: one worker process per share on this host (`python -m
chaos.load.process`), heard through a socketpair (chaos.load.channel framing)."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import replace

import anyio

from chaos.errors import LoadError
from chaos.load.backends.base import BackendKind, Message, Placement, WorkerChannel
from chaos.load.channel import FrameReader, frame
from chaos.load.worker import WorkerShare

EXIT_TIMEOUT_S = 5.0


class LocalChannel:
    """A worker process and its socket."""

    def __init__(self, share: WorkerShare, placement: Placement,
                 process: subprocess.Popen[bytes], sock: socket.socket) -> None:
        self.share = share
        self.placement = placement
        self.process = process
        self.sock = sock
        self.lost_reason: str | None = None
        self._reader = FrameReader()

    def beat(self, stop_requested: bool) -> None:
        # A full or closed channel loses nothing: the next heartbeat carries the same state.
        with contextlib.suppress(OSError):
            self.sock.send(frame(("beat", stop_requested)))

    async def receive(self) -> list[Message] | None:
        while True:
            await anyio.wait_readable(self.sock)
            try:
                data = self.sock.recv(1 << 20)
            except BlockingIOError:
                continue
            except OSError:
                data = b""
            if not data:
                return None
            messages = self._reader.feed(data)
            if messages:
                return messages

    def clock_samples(self) -> tuple[tuple[float, float, float], ...]:
        return ()  # the coordinator's own clock

    async def close(self) -> None:
        await _reap([self], time.monotonic() + EXIT_TIMEOUT_S)


async def _reap(channels: Sequence[LocalChannel], deadline: float) -> None:
    for channel in channels:
        process = channel.process
        while process.poll() is None and time.monotonic() < deadline:  # noqa: ASYNC110  # Popen has no awaitable exit
            await anyio.sleep(0.02)
        if process.poll() is None:
            process.kill()
            process.wait()
        channel.sock.close()


class LocalBackend:
    """Worker processes on this host, one per core by default."""

    kind: BackendKind = "local"

    def __init__(self) -> None:
        self._here = Placement(node=socket.gethostname(), address="local", cpus=1.0,
                               node_cpus=float(os.cpu_count() or 1))
        self._channels: list[LocalChannel] = []

    async def place(self, count: int) -> Sequence[Placement]:
        return (self._here,) * count

    async def start(self, shares: Sequence[WorkerShare]) -> list[WorkerChannel]:
        for share in shares:
            self._channels.append(self._spawn(share, self._here))
        return list(self._channels)

    def _spawn(self, share: WorkerShare, here: Placement) -> LocalChannel:
        parent, child = socket.socketpair()
        try:
            process = subprocess.Popen(
                [sys.executable, "-m", "chaos.load.process", str(child.fileno())],
                pass_fds=(child.fileno(),), stdin=subprocess.DEVNULL,
            )
        except OSError as exc:
            parent.close()
            raise LoadError(f"cannot start load worker {share.worker_id}: {exc}") from exc
        finally:
            child.close()
        parent.sendall(frame(("share", share)))
        parent.setblocking(False)
        return LocalChannel(share, replace(here, pid=process.pid), process, parent)

    async def close(self) -> None:
        channels, self._channels = self._channels, []
        await _reap(channels, time.monotonic() + EXIT_TIMEOUT_S)
