"""Frozen views of the driver: the live `DriverStatistics` and the end-of-run `LoadSummary`,
and the tally that builds both from the windows the controller received."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from chaos.recording import STATUS_CLASSES, LoadWindow


@dataclass(frozen=True, slots=True)
class DriverStatistics:
    """The live view: totals so far (from received windows) and each worker's latest health."""

    workers: int
    requests_started: int
    requests_ended: int
    in_flight: int
    rps: float  # requests ended per second in each worker's latest window, summed
    counts: Mapping[str, int]
    cancelled: int
    late: int
    dropped: int
    windows_received: int
    windows_missing: int
    saturated_windows: int
    worker_lag_p99_ms: Mapping[str, float]
    worker_cpu_percent: Mapping[str, float]


@dataclass(frozen=True, slots=True)
class LoadSummary:
    """What the driver did over the run. `requests_started == requests_recorded + cancelled`
    whenever no window is missing."""

    run_id: str
    started_at: float  # wall clock, the load start
    ended_at: float
    workers: int
    requests_started: int
    requests_recorded: int
    cancelled: int
    late: int
    dropped: int
    counts: Mapping[str, int]
    transport: Mapping[str, int]
    error_codes: Mapping[str, int]
    windows: int
    missing_windows: int
    saturated_windows: int
    max_loop_lag_p99_ms: float
    max_cpu_percent: float
    stopped_early: bool
    worker_errors: tuple[str, ...] = field(default=())


class Tally:
    """Running totals over received windows (the controller's only merge)."""

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self.started = 0
        self.counts = dict.fromkeys(STATUS_CLASSES, 0)
        self.transport: dict[str, int] = {}
        self.error_codes: dict[str, int] = {}
        self.cancelled = 0
        self.late = 0
        self.dropped = 0
        self.windows = 0
        self.missing = 0
        self.saturated = 0
        self.max_lag_ms = 0.0
        self.max_cpu = 0.0
        self.latest: dict[str, LoadWindow] = {}

    def add(self, window: LoadWindow) -> None:
        self.windows += 1
        self.started += window.started
        for cls, n in window.counts.items():
            self.counts[cls] = self.counts.get(cls, 0) + n
        for kind, n in window.transport.items():
            self.transport[kind] = self.transport.get(kind, 0) + n
        for code, n in window.error_codes.items():
            self.error_codes[code] = self.error_codes.get(code, 0) + n
        self.cancelled += window.cancelled
        self.late += window.late
        self.dropped += window.dropped
        self.saturated += window.saturated
        self.max_lag_ms = max(self.max_lag_ms, window.loop_lag_p99_ms)
        self.max_cpu = max(self.max_cpu, window.cpu_percent)
        previous = self.latest.get(window.worker_id)
        if previous is None or window.seq >= previous.seq:
            self.latest[window.worker_id] = window

    @property
    def recorded(self) -> int:
        return sum(self.counts.values())

    def statistics(self) -> DriverStatistics:
        latest = self.latest.values()
        rps = sum(
            sum(w.counts.values()) / (w.end - w.start) for w in latest if w.end - w.start > 0.05
        )
        return DriverStatistics(
            workers=self.workers,
            requests_started=self.started,
            requests_ended=self.recorded,
            in_flight=sum(w.in_flight for w in latest),
            rps=rps,
            counts=dict(self.counts),
            cancelled=self.cancelled,
            late=self.late,
            dropped=self.dropped,
            windows_received=self.windows,
            windows_missing=self.missing,
            saturated_windows=self.saturated,
            worker_lag_p99_ms={w.worker_id: w.loop_lag_p99_ms for w in latest},
            worker_cpu_percent={w.worker_id: w.cpu_percent for w in latest},
        )

    def summary(
        self, *, run_id: str, started_at: float, ended_at: float, stopped_early: bool,
        worker_errors: tuple[str, ...],
    ) -> LoadSummary:
        return LoadSummary(
            run_id=run_id, started_at=started_at, ended_at=ended_at, workers=self.workers,
            requests_started=self.started, requests_recorded=self.recorded,
            cancelled=self.cancelled, late=self.late, dropped=self.dropped,
            counts=dict(self.counts), transport=dict(self.transport),
            error_codes=dict(self.error_codes), windows=self.windows,
            missing_windows=self.missing, saturated_windows=self.saturated,
            max_loop_lag_p99_ms=self.max_lag_ms, max_cpu_percent=self.max_cpu,
            stopped_early=stopped_early, worker_errors=worker_errors,
        )
