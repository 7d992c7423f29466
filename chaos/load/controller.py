"""The load controller: starts workers through a backend (local processes or Ray actors),
merges their windows, detects missing ones and records lost workers."""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import anyio

from chaos.errors import LoadError
from chaos.load.backends import Backend, BackendChoice, Placement, WorkerChannel, open_backend
from chaos.load.config import LoadConfig
from chaos.load.limits import check_fd_limit
from chaos.load.schedule import WindowEdges
from chaos.load.statistics import DriverStatistics, LoadSummary, Tally
from chaos.load.worker import WorkerShare
from chaos.recording import LoadWindow, MissingWindow, WorkerRecord

log = logging.getLogger("chaos.load")

HEARTBEAT_S = 0.5
EXIT_TIMEOUT_S = 5.0


def split_shares(config: LoadConfig, start_wall: float, heartbeat_timeout_s: float,
                 workers: int | None = None) -> list[WorkerShare]:
    """The load spread evenly over `workers` (default `config.workers`; never more workers
    than streams)."""
    workers = config.workers if workers is None else workers
    workers = workers if config.model == "open" else min(workers, config.streams)
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
    channel: WorkerChannel
    received: set[int] = field(default_factory=set)
    checked_seq: int = 0  # every seq below this is received or reported missing
    done_seq: int | None = None  # the worker said it emitted seqs [0, done_seq)
    error: str | None = None
    dead: bool = False  # the channel ended without a "done"
    last_seq: int | None = None  # the highest seq received
    lost_at: float | None = None

    @property
    def share(self) -> WorkerShare:
        return self.channel.share


class LoadController:
    """Runs one load: workers placed by a backend (local processes, one per core by default,
    or Ray actors spread over a cluster), each with its own uvloop.

    Windows are forwarded to `on_window` in arrival order (first copy only); a window that
    has not arrived `missing_after_s` after its end goes to `on_missing` (a gap, not zeros).
    `on_worker` hears each worker's record: where it runs, its clock, and its loss.
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
        backend: BackendChoice | None = None,
        on_worker: Callable[[WorkerRecord], None] | None = None,
    ) -> None:
        config.target()  # refuse a target outside allowed_hosts before anything starts
        self.config = config
        self._on_window = on_window
        self._on_missing = on_missing
        self._on_worker = on_worker
        self._edges = WindowEdges(config.window_cuts_s)  # the same edges as every worker
        self._startup_s = startup_s
        self._missing_after_s = missing_after_s
        self._heartbeat_timeout_s = heartbeat_timeout_s
        self._choice = backend
        self._backend: Backend | None = None
        self._placements: tuple[Placement, ...] | None = None
        self._workers: list[_Worker] = []
        self._tally = Tally(0)
        self._stop_requested = False
        self._start_wall = 0.0
        self._done = anyio.Event()

    def stop(self) -> None:
        """Graceful stop: ramp down now, in-flight streams get `graceful_s`, the rest are cancelled."""
        self._stop_requested = True
        for worker in self._workers:
            worker.channel.beat(True)

    def worker_pids(self) -> tuple[int, ...]:
        """Process ids of this run's workers (for operators and tests; a Ray worker's is on its node)."""
        return tuple(w.channel.placement.pid or 0 for w in self._workers)

    def worker_records(self) -> tuple[WorkerRecord, ...]:
        """Where each worker of this run ran, its clock, and whether it was lost."""
        return tuple(self._record(w) for w in self._workers)

    def statistics(self) -> DriverStatistics:
        return self._tally.statistics()

    async def prepare(self) -> tuple[Placement, ...]:
        """Place the workers (a Ray backend reserves its nodes and measures their clocks), so
        a caller can choose the load's start instant after that and show where they run.
        PreflightError when the places cannot be had; `run()` calls it when nobody did."""
        if self._placements is None:
            backend = self._backend = open_backend(self._choice)
            self._placements = tuple(await backend.place(self.config.workers))
        return self._placements

    async def run(self, *, start_wall: float | None = None) -> LoadSummary:
        """Drive the load; it starts at `start_wall` (Unix seconds), by default `startup_s`
        from now. A caller that schedules faults against the load start passes its own."""
        cfg = self.config
        placements = await self.prepare()
        backend = self._backend
        assert backend is not None  # Invariant: prepared
        self._start_wall = time.time() + self._startup_s if start_wall is None else start_wall
        shares = split_shares(cfg, self._start_wall, self._heartbeat_timeout_s, workers=len(placements))
        if backend.kind == "local":  # remote workers check their own node's limit
            for share in shares:
                check_fd_limit(share.connections_needed, raise_soft=False)
        self._tally = Tally(len(shares))
        self._done = anyio.Event()
        deadline = self._start_wall + cfg.duration_s + cfg.graceful_s + 10.0
        try:
            self._workers = [_Worker(channel) for channel in await backend.start(shares)]
            for worker in self._workers:
                self._tell(worker)
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
                await backend.close()
            for worker in self._workers:
                self._tell(worker)  # the final record: every clock sample, the losses
        errors = tuple(f"{w.share.worker_id}: {w.error}" for w in self._workers if w.error)
        if errors and self._tally.windows == 0:
            raise LoadError("load workers failed: " + "; ".join(errors))
        return self._tally.summary(
            run_id=cfg.run_id, started_at=self._start_wall, ended_at=time.time(),
            stopped_early=self._stop_requested, worker_errors=errors,
        )

    # -- workers -----------------------------------------------------------------------
    def _record(self, worker: _Worker) -> WorkerRecord:
        share, placement = worker.share, worker.channel.placement
        return WorkerRecord(
            worker_id=share.worker_id, incarnation=share.incarnation,
            backend=self._backend.kind if self._backend is not None else "local",
            node=placement.node, address=placement.address, pid=placement.pid,
            cpus=placement.cpus, streams=share.stream_count, rate_per_s=share.rate_per_s,
            clock_samples=worker.channel.clock_samples(), lost_at=worker.lost_at,
            lost_reason=worker.error if worker.lost_at is not None else None,
            last_seq=worker.last_seq,
        )

    def _tell(self, worker: _Worker) -> None:
        if self._on_worker is not None:
            self._on_worker(self._record(worker))

    async def _heartbeats(self) -> None:
        while True:
            for worker in self._workers:
                if worker.done_seq is None and not worker.dead:
                    worker.channel.beat(self._stop_requested)
            await anyio.sleep(HEARTBEAT_S)

    async def _read(self, worker: _Worker) -> None:
        while worker.done_seq is None and not worker.dead:
            messages = await worker.channel.receive()
            if messages is None:
                if worker.done_seq is None:
                    self._lose(worker, worker.channel.lost_reason or "exited without finishing its share")
                self._check_done()
                return
            for message in messages:
                self._handle(worker, message)

    def _lose(self, worker: _Worker, reason: str) -> None:
        """A worker gone mid-run is evidence: its windows from here on are gaps, the rest go on."""
        worker.dead = True
        worker.error = worker.error or reason
        worker.lost_at = time.time()
        placement = worker.channel.placement
        log.warning("load worker %s on %s was lost: %s (last window %s); the drill goes on "
                    "without its share", worker.share.worker_id, placement.describe(),
                    worker.error, "none" if worker.last_seq is None else worker.last_seq)
        self._tell(worker)

    def _handle(self, worker: _Worker, message: tuple[object, ...]) -> None:
        kind = message[0]
        if kind == "window" and isinstance(message[1], LoadWindow):
            window = message[1]
            if window.seq in worker.received:
                return  # a duplicate: windows are identified by (run, worker, incarnation, seq)
            worker.received.add(window.seq)
            worker.last_seq = window.seq if worker.last_seq is None else max(worker.last_seq, window.seq)
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
