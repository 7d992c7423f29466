"""The load worker inside a Ray actor: the same `chaos.load.worker.run` as a local worker
process, on its own uvloop in a thread of the actor's process (the actor's methods only
carry heartbeats in and windows out).

Plain Python: `chaos.load.backends.ray_backend` wraps it with `ray.remote`, so importing
this module needs no Ray. Messages are numbered from 0; the coordinator acknowledges the
ones it has, and an answer lost on the way is sent again (duplicates are harmless).
"""

from __future__ import annotations

import asyncio
import os
import socket
import threading
import time
from typing import Any

from chaos.errors import ChaosError
from chaos.gcpacing import GCPacing
from chaos.load.worker import StopSignal, WorkerShare, run
from chaos.recording import LoadWindow

Message = tuple[Any, ...]


class LoadActor:
    """One worker slot of a Ray placement group."""

    def __init__(self) -> None:
        self._stop = StopSignal()
        self._lock = threading.Lock()
        self._outbox: list[Message] = []  # Invariant: _outbox[i] is message number _first + i
        self._first = 0
        self._thread: threading.Thread | None = None

    def where(self) -> dict[str, Any]:
        """The node this actor runs on, as Ray and the OS name it."""
        import ray

        return {
            "node_id": ray.get_runtime_context().get_node_id(),
            "hostname": socket.gethostname(),
            "pid": os.getpid(),
            "cpus": os.cpu_count() or 1,
        }

    def clock(self) -> float:
        return time.time()

    def start(self, share: WorkerShare) -> None:
        """Start driving `share` (its `start_wall` already on this node's clock)."""
        if self._thread is not None:
            raise ChaosError(f"load worker {share.worker_id} was started twice")
        self._stop.heard()
        self._thread = threading.Thread(target=self._drive, args=(share,), name=f"load-{share.worker_id}",
                                        daemon=True)
        self._thread.start()

    def exchange(self, stop_requested: bool, acked: int) -> tuple[float, int, list[Message]]:
        """A heartbeat in; out: this node's clock, the number of the first message returned,
        and every message from number `acked` on."""
        self._stop.heard()
        if stop_requested:
            self._stop.request()
        with self._lock:
            drop = min(max(0, acked - self._first), len(self._outbox))
            del self._outbox[:drop]
            self._first += drop
            return time.time(), self._first, list(self._outbox)

    def _post(self, message: Message) -> None:
        with self._lock:
            self._outbox.append(message)

    def _drive(self, share: WorkerShare) -> None:
        import uvloop

        last_seq = 0

        def emit(window: LoadWindow) -> None:
            nonlocal last_seq
            last_seq = window.seq + 1
            self._post(("window", window))

        async def main() -> None:
            # As in a local worker process (chaos.load.process): full collections on a clock.
            pacing = GCPacing()
            pacing.install()
            paced = asyncio.ensure_future(pacing.run_forever())
            try:
                await run(share, emit, self._stop)
            finally:
                paced.cancel()

        try:
            uvloop.run(main())
        except ChaosError as exc:
            self._post(("error", str(exc)))
        except Exception as exc:  # the thread's last word: the coordinator must hear why it ended
            self._post(("error", f"{type(exc).__name__}: {exc}"))
        finally:
            self._post(("done", last_seq))
