"""The run's recorder: every window, sample, probe and fault record, kept in memory and
appended to the bundle as it arrives, with a rolling view for the live display and aborts."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from chaos.recording import (
    STATUS_CLASSES,
    FaultRecord,
    LoadWindow,
    MissingWindow,
    Phase,
    ProbeSecond,
    Recording,
    Sample,
    WorkerRecord,
)
from chaos.report.bundle import BundleWriter
from chaos.report.series import merge_histograms, p95_ms

ROLLING_S = 5.0  # the live view and abort checks look at the last few seconds


@dataclass(frozen=True, slots=True)
class RollingView:
    """The last few seconds of load, as rates (None when nothing ended: a gap, not 0)."""

    seconds: float
    requests_per_s: float
    started_per_s: float
    in_flight: int
    rates: Mapping[str, float | None]
    p95_first_token_ms: float | None
    p95_completion_ms: float | None
    saturated: bool
    loop_lag_p99_ms: float
    cpu_percent: float
    regions: Mapping[str, int]


@dataclass(frozen=True, slots=True)
class RecorderStatistics:
    windows: int
    missing_windows: int
    samples: int
    probes: int
    faults: int
    duplicate_windows: int


@dataclass
class Recorder:
    run_id: str
    started_at: float
    bundle: BundleWriter | None = None
    time_scale: float = 1.0
    load_scale: float = 1.0
    sample_interval_s: float = 1.0
    phases: tuple[Phase, ...] = ()
    _windows: list[LoadWindow] = field(default_factory=list)
    _keys: set[tuple[str, str, int, int]] = field(default_factory=set)
    _recent: deque[LoadWindow] = field(default_factory=deque)
    _missing: list[MissingWindow] = field(default_factory=list)
    _samples: list[Sample] = field(default_factory=list)
    _latest: dict[tuple[str, tuple[tuple[str, str], ...]], Sample] = field(default_factory=dict)
    _probes: list[ProbeSecond] = field(default_factory=list)
    _faults: dict[str, FaultRecord] = field(default_factory=dict)
    _workers: dict[tuple[str, int], WorkerRecord] = field(default_factory=dict)
    _duplicates: int = 0
    listeners: list[Callable[[LoadWindow | Sample | ProbeSecond], None]] = field(default_factory=list)

    def set_phases(self, phases: tuple[Phase, ...]) -> None:
        self.phases = phases
        if self.bundle is not None:
            self.bundle.write_phases(phases)

    def add_window(self, window: LoadWindow) -> None:
        if window.key in self._keys:
            self._duplicates += 1  # receiving a window twice is harmless by contract
            return
        self._keys.add(window.key)
        self._windows.append(window)
        self._recent.append(window)
        while self._recent and self._recent[0].end < window.end - ROLLING_S:
            self._recent.popleft()
        if self.bundle is not None:
            self.bundle.append_window(window)
        for listener in self.listeners:
            listener(window)

    def add_missing(self, missing: MissingWindow) -> None:
        self._missing.append(missing)
        if self.bundle is not None:
            self.bundle.append_missing(missing)

    def add_sample(self, sample: Sample) -> None:
        self._samples.append(sample)
        self._latest[(sample.metric, tuple(sorted(sample.labels.items())))] = sample
        if self.bundle is not None:
            self.bundle.append_sample(sample)
        for listener in self.listeners:
            listener(sample)

    def add_probe(self, probe: ProbeSecond) -> None:
        self._probes.append(probe)
        if self.bundle is not None:
            self.bundle.append_probe(probe)
        for listener in self.listeners:
            listener(probe)

    def add_fault(self, record: FaultRecord) -> None:
        self._faults[record.id] = record
        if self.bundle is not None:
            self.bundle.append_fault(record)

    def add_worker(self, record: WorkerRecord) -> None:
        """A load worker's latest record (where it runs, its clock, its loss)."""
        key = (record.worker_id, record.incarnation)
        before = self._workers.get(key)
        self._workers[key] = record
        if self.bundle is None:
            return
        if before is None:
            self.bundle.append_event("load.worker", f"{record.worker_id} on {record.node} ({record.address})",
                                     **_worker_detail(record))
        elif record.lost_at is not None and before.lost_at is None:
            self.bundle.append_event("load.worker_lost", f"{record.worker_id} on {record.node} was lost: "
                                     f"{record.lost_reason}", **_worker_detail(record))

    def workers(self) -> tuple[WorkerRecord, ...]:
        return tuple(self._workers.values())

    def worker_cpu_percent(self) -> dict[str, float]:
        """Each worker's CPU (percent of one core) in its latest recent window."""
        return {w.worker_id: w.cpu_percent for w in self._recent}

    def faults(self) -> tuple[FaultRecord, ...]:
        return tuple(self._faults.values())

    def latest_samples(self, metric: str) -> list[Sample]:
        return [s for (m, _), s in self._latest.items() if m == metric]

    def latest_probe(self) -> ProbeSecond | None:
        return self._probes[-1] if self._probes else None

    def recent_probes(self, seconds: float, now: float | None = None) -> list[ProbeSecond]:
        cutoff = (now if now is not None else time.time()) - seconds
        out = []
        for p in reversed(self._probes):
            if p.t < cutoff:
                break
            out.append(p)
        return out[::-1]

    def rolling(self) -> RollingView:
        recent = list(self._recent)
        if not recent:
            return RollingView(ROLLING_S, 0.0, 0.0, 0, dict.fromkeys(STATUS_CLASSES), None, None, False, 0.0, 0.0, {})
        span = max(1.0, max(w.end for w in recent) - min(w.start for w in recent))
        counts = dict.fromkeys(STATUS_CLASSES, 0)
        regions: dict[str, int] = {}
        for w in recent:
            for k, v in w.counts.items():
                counts[k] = counts.get(k, 0) + v
            for k, v in w.regions.items():
                regions[k] = regions.get(k, 0) + v
        ended = sum(counts.values())
        latest: dict[str, LoadWindow] = {}
        for w in recent:
            latest[w.worker_id] = w
        return RollingView(
            seconds=span,
            requests_per_s=ended / span,
            started_per_s=sum(w.started for w in recent) / span,
            in_flight=sum(w.in_flight for w in latest.values()),
            rates={k: (v / ended if ended else None) for k, v in counts.items()},
            p95_first_token_ms=p95_ms(merge_histograms(w.first_token_hist for w in recent)),
            p95_completion_ms=p95_ms(merge_histograms(w.completion_hist for w in recent)),
            saturated=any(w.saturated for w in latest.values()),
            loop_lag_p99_ms=max(w.loop_lag_p99_ms for w in latest.values()),
            cpu_percent=max(w.cpu_percent for w in latest.values()),
            regions=regions,
        )

    def recording(self, *, ended_at: float, complete: bool, aborted: str | None) -> Recording:
        return Recording(
            run_id=self.run_id,
            started_at=self.started_at,
            ended_at=ended_at,
            phases=self.phases,
            windows=tuple(self._windows),
            missing_windows=tuple(self._missing),
            samples=tuple(self._samples),
            probes=tuple(self._probes),
            faults=self.faults(),
            time_scale=self.time_scale,
            load_scale=self.load_scale,
            complete=complete,
            aborted=aborted,
            sample_interval_s=self.sample_interval_s,
            workers=self.workers(),
        )

    def statistics(self) -> RecorderStatistics:
        return RecorderStatistics(
            windows=len(self._windows),
            missing_windows=len(self._missing),
            samples=len(self._samples),
            probes=len(self._probes),
            faults=len(self._faults),
            duplicate_windows=self._duplicates,
        )


def _worker_detail(record: WorkerRecord) -> dict[str, object]:
    return {"worker_id": record.worker_id, "node": record.node, "address": record.address,
            "pid": record.pid, "backend": record.backend, "lost_at": record.lost_at,
            "last_seq": record.last_seq,
            "clock_offset_s": record.clock_samples[0][1] if record.clock_samples else None}
