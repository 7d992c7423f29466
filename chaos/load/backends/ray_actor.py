"""The load worker inside a Ray actor: the actor owns a local worker process (`python -m
chaos.load.process`, the very driver of the local backend) and relays its channel: windows
out, heartbeats in; the process runs at normal priority where the node allows it.

Measured (benchmarks/ray_backend.py, docs/ray.md): a worker inside a Ray actor drove 25 %
fewer short requests per CPU-second than a local one, in a thread of the actor and in a
process of its own alike, because Ray starts its workers at nice 15; at nice 0 the process
drives as many (0.94). A process of its own also keeps the driver byte for byte the local
one (its own GC pacing, no interpreter shared with Ray's threads).

Plain Python: `chaos.load.backends.ray_backend` wraps it with `ray.remote`, so importing
this module needs no Ray. Messages are numbered from 0; the coordinator acknowledges the
ones it has, and an answer lost on the way is sent again (duplicates are harmless).
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import threading
import time
from typing import Any

from chaos.errors import ChaosError
from chaos.load.channel import FrameReader, frame
from chaos.load.worker import WorkerShare

Message = tuple[Any, ...]
# The worker process dies with the actor (Linux: prctl PR_SET_PDEATHSIG, SIGKILL), so a
# killed actor leaves no load behind; elsewhere its heartbeat timeout stops it.
_LAUNCH = (
    "import ctypes, runpy, sys\n"
    "if sys.platform == 'linux':\n"
    "    ctypes.CDLL(None).prctl(1, 9)\n"
    "sys.argv = ['chaos.load.process', sys.argv[1]]\n"
    "runpy.run_module('chaos.load.process', run_name='__main__', alter_sys=True)\n"
)


class LoadActor:
    """One worker slot of a Ray placement group."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._outbox: list[Message] = []  # Invariant: _outbox[i] is message number _first + i
        self._first = 0
        self._ended = False  # the worker process's channel closed
        self._sock: socket.socket | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self.niceness: int | None = None  # the worker process's, once started

    def where(self) -> dict[str, Any]:
        """The node this actor runs on, as Ray and the OS name it."""
        import ray

        return {"node_id": ray.get_runtime_context().get_node_id(), "hostname": socket.gethostname(),
                "pid": os.getpid(), "cpus": os.cpu_count() or 1}

    def clock(self) -> float:
        return time.time()

    def start(self, share: WorkerShare) -> tuple[int, int]:
        """Start the worker process on `share` (its `start_wall` already on this node's
        clock); returns its pid and niceness."""
        if self._process is not None:
            raise ChaosError(f"load worker {share.worker_id} was started twice")
        parent, child = socket.socketpair()
        try:
            self._process = subprocess.Popen(
                [sys.executable, "-c", _LAUNCH, str(child.fileno())],
                pass_fds=(child.fileno(),), stdin=subprocess.DEVNULL,
            )
        finally:
            child.close()
        self.niceness = _normal_priority(self._process.pid)
        parent.sendall(frame(("share", share)))
        self._sock = parent
        threading.Thread(target=self._relay, args=(parent,), name=f"relay-{share.worker_id}",
                         daemon=True).start()
        return self._process.pid, self.niceness

    def exchange(self, stop_requested: bool, acked: int) -> tuple[float, int, list[Message], bool]:
        """A heartbeat in; out: this node's clock, the number of the first message returned,
        every message from number `acked` on, and whether the worker's channel has closed."""
        if self._sock is not None and not self._ended:
            with contextlib.suppress(OSError):  # a closed channel shows as `ended`
                self._sock.sendall(frame(("beat", stop_requested)))
        with self._lock:
            drop = min(max(0, acked - self._first), len(self._outbox))
            del self._outbox[:drop]
            self._first += drop
            return time.time(), self._first, list(self._outbox), self._ended

    def _relay(self, sock: socket.socket) -> None:
        reader = FrameReader()
        try:
            while True:
                data = sock.recv(1 << 20)
                if not data:
                    break
                messages = reader.feed(data)
                if messages:
                    with self._lock:
                        self._outbox.extend(messages)
        except OSError:
            pass  # the process is gone: the coordinator hears `ended`
        finally:
            with self._lock:
                self._ended = True
            if self._process is not None:
                self._process.wait()


def _normal_priority(pid: int) -> int:
    """Bring the worker process from Ray's worker niceness (15) back to 0 where the node
    allows it (root, or CAP_SYS_NICE); its niceness either way."""
    with contextlib.suppress(OSError):
        if os.getpriority(os.PRIO_PROCESS, pid) > 0:
            os.setpriority(os.PRIO_PROCESS, pid, 0)
    try:
        return os.getpriority(os.PRIO_PROCESS, pid)
    except OSError:
        return 0
