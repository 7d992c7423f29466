"""The load controller: spawns worker processes, forwards their windows, detects missing ones."""

from __future__ import annotations

import contextlib
import logging
import math
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import anyio

from chaos.errors import LoadError
from chaos.load.channel import FrameReader, frame
from chaos.load.config import LoadConfig
from chaos.load.limits import check_fd_limit
from chaos.load.schedule import WindowEdges
from chaos.load.statistics import DriverStatistics, LoadSummary, Tally
from chaos.load.worker import WorkerShare
from chaos.recording import LoadWindow, MissingWindow

log = logging.getLogger("chaos.load")

HEARTBEAT_S = 0.5
EXIT_TIMEOUT_S = 5.0


def split_shares(config: LoadConfig, start_wall: float, heartbeat_timeout_s: float) -> list[WorkerShare]:
    """The load spread evenly over `config.workers` (never more workers than streams)."""
    workers = config.workers if config.model == "open" else min(config.workers, config.streams)
    shares = []
    for i in range(workers):
        first = config.streams * i // workers
        count = config.streams * (i + 1) // workers - first
        shares.append(WorkerShare(
            config=config, worker_id=f"w{i}", worker_index=i, workers=workers,
            stream_first=first if config.model == "closed" else 0,
            stream_count=count if config.model == "closed" else 0,
            rate_per_s=config.rate_per_s / workers, phase=i / workers,
            max_in_flight=max(1, math.ceil(config.max_in_flight / workers)),
            start_wall=start_wall, heartbeat_timeout_s=heartbeat_timeout_s,
        ))
    return shares


@dataclass
class _Worker:
    share: WorkerShare
    process: subprocess.Popen[bytes]
    sock: socket.socket
    reader: FrameReader = field(default_factory=FrameReader)
    received: set[int] = field(default_factory=set)
    checked_seq: int = 0  # every seq below this is received or reported missing
    done_seq: int | None = None  # the worker said it emitted seqs [0, done_seq)
    error: str | None = None
    dead: bool = False  # the channel closed without a "done"


class LoadController:
    """Runs one load: worker processes (one per core by default), each with its own uvloop.

    Windows are forwarded to `on_window` in arrival order (first copy only); a window that
    has not arrived `missing_after_s` after its end goes to `on_missing` (a gap, not zeros).
    """

    def __init__(
        self,
        config: LoadConfig,
        on_window: Callable[[LoadWindow], None],
        on_missing: Callable[[MissingWindow], None] | None = None,
        *,
        startup_s: float = 2.0,
        missing_after_s: float = 2.5,
        heartbeat_timeout_s: float = 10.0,
    ) -> None:
        config.target()  # refuse a target outside allowed_hosts before anything starts
        self.config = config
        self._on_window = on_window
        self._on_missing = on_missing
        self._edges = WindowEdges(config.window_cuts_s)  # the same edges as every worker
        self._startup_s = startup_s
        self._missing_after_s = missing_after_s
        self._heartbeat_timeout_s = heartbeat_timeout_s
        self._workers: list[_Worker] = []
        self._tally = Tally(0)
        self._stop_requested = False
        self._start_wall = 0.0
        self._done = anyio.Event()

    def stop(self) -> None:
        """Graceful stop: ramp down now, in-flight streams get `graceful_s`, the rest are cancelled."""
        self._stop_requested = True
        for worker in self._workers:
            self._send(worker, ("beat", True))

    def worker_pids(self) -> tuple[int, ...]:
        """Process ids of this run's workers (for operators and tests)."""
        return tuple(w.process.pid for w in self._workers)

    def statistics(self) -> DriverStatistics:
        return self._tally.statistics()

    async def run(self, *, start_wall: float | None = None) -> LoadSummary:
        """Drive the load; it starts at `start_wall` (Unix seconds), by default `startup_s`
        from now. A caller that schedules faults against the load start passes its own."""
        cfg = self.config
        self._start_wall = time.time() + self._startup_s if start_wall is None else start_wall
        shares = split_shares(cfg, self._start_wall, self._heartbeat_timeout_s)
        for share in shares:
            check_fd_limit(share.connections_needed, raise_soft=False)
        self._tally = Tally(len(shares))
        self._done = anyio.Event()
        deadline = self._start_wall + cfg.duration_s + cfg.graceful_s + 10.0
        try:
            for share in shares:
                self._workers.append(self._spawn(share))
            async with anyio.create_task_group() as tg:
                for worker in self._workers:
                    tg.start_soon(self._read, worker)
                tg.start_soon(self._heartbeats)
                tg.start_soon(self._watch_missing)
                with anyio.move_on_after(max(0.0, deadline - time.time())):
                    await self._done.wait()
                if not self._done.is_set():
                    self.stop()  # the schedule is long over: make the workers end
                    with anyio.move_on_after(cfg.graceful_s + EXIT_TIMEOUT_S):
                        await self._done.wait()
                self._report_missing(final=True)
                tg.cancel_scope.cancel()
        finally:
            with anyio.CancelScope(shield=True):
                await self._reap()
        errors = tuple(f"{w.share.worker_id}: {w.error}" for w in self._workers if w.error)
        if errors and self._tally.windows == 0:
            raise LoadError("load workers failed: " + "; ".join(errors))
        return self._tally.summary(
            run_id=cfg.run_id, started_at=self._start_wall, ended_at=time.time(),
            stopped_early=self._stop_requested, worker_errors=errors,
        )

    # -- workers -----------------------------------------------------------------------
    def _spawn(self, share: WorkerShare) -> _Worker:
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
        return _Worker(share, process, parent)

    def _send(self, worker: _Worker, message: tuple[object, ...]) -> None:
        # A full or closed channel loses nothing: the next heartbeat carries the same state.
        with contextlib.suppress(OSError):
            worker.sock.send(frame(message))

    async def _heartbeats(self) -> None:
        while True:
            for worker in self._workers:
                if worker.done_seq is None:
                    self._send(worker, ("beat", self._stop_requested))
            await anyio.sleep(HEARTBEAT_S)

    async def _read(self, worker: _Worker) -> None:
        while worker.done_seq is None and not worker.dead:
            await anyio.wait_readable(worker.sock)
            try:
                data = worker.sock.recv(1 << 20)
            except BlockingIOError:
                continue
            except OSError:
                data = b""
            if not data:
                if worker.done_seq is None:
                    worker.dead = True
                    worker.error = worker.error or "exited without finishing its share"
                self._check_done()
                return
            for message in worker.reader.feed(data):
                self._handle(worker, message)

    def _handle(self, worker: _Worker, message: tuple[object, ...]) -> None:
        kind = message[0]
        if kind == "window" and isinstance(message[1], LoadWindow):
            window = message[1]
            if window.seq in worker.received:
                return  # a duplicate: windows are identified by (run, worker, incarnation, seq)
            worker.received.add(window.seq)
            self._tally.add(window)
            if window.saturated:
                log.warning(
                    "load worker %s is saturated in window %d: loop lag p99 %.1f ms (limit %.1f), "
                    "CPU %.0f%% (limit %.0f%%); its latencies are the driver's, not the target's",
                    window.worker_id, window.seq, window.loop_lag_p99_ms, self.config.max_lag_p99_ms,
                    window.cpu_percent, self.config.max_cpu_percent,
                )
            self._on_window(window)
        elif kind == "done" and isinstance(message[1], int):
            worker.done_seq = message[1]
            self._check_done()
        elif kind == "error":
            worker.error = str(message[1])

    def _check_done(self) -> None:
        if all(w.done_seq is not None or w.dead for w in self._workers):
            self._done.set()

    # -- missing windows ---------------------------------------------------------------
    async def _watch_missing(self) -> None:
        while True:
            self._report_missing(final=False)
            await anyio.sleep(0.25)

    def _report_missing(self, *, final: bool) -> None:
        now = time.time()
        edges = self._edges
        scheduled = edges.count_until(math.ceil(self.config.duration_s + self.config.graceful_s))
        for worker in self._workers:
            limit = worker.done_seq if worker.done_seq is not None else scheduled
            while True:
                seq = worker.checked_seq
                end = self._start_wall + edges.edge(seq + 1)
                if seq >= limit:
                    break
                if not final and end + self._missing_after_s > now:
                    break
                if seq not in worker.received:
                    self._tally.missing += 1
                    if self._on_missing is not None:
                        self._on_missing(MissingWindow(
                            worker.share.worker_id, worker.share.incarnation, seq,
                            self._start_wall + edges.edge(seq), end,
                        ))
                worker.checked_seq += 1

    async def _reap(self) -> None:
        deadline = time.monotonic() + EXIT_TIMEOUT_S
        for worker in self._workers:
            while worker.process.poll() is None and time.monotonic() < deadline:  # noqa: ASYNC110  # Popen has no awaitable exit
                await anyio.sleep(0.02)
            if worker.process.poll() is None:
                worker.process.kill()
                worker.process.wait()
            worker.sock.close()
