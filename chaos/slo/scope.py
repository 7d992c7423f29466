"""Scopes (the time ranges SLOs are judged over) and the load aggregates inside them."""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace

from chaos.recording import (
    STATUS_CLASSES,
    LoadWindow,
    MissingWindow,
    Phase,
    Recording,
    server_failures,
)
from chaos.slo.histogram import HistogramAccumulator


@dataclass(frozen=True, slots=True)
class Scope:
    """A named union of half-open wall-clock intervals [start, end), judged at one tier."""

    name: str  # "baseline", "fault:<id>", "recovery", "run"
    tier: str
    intervals: tuple[tuple[float, float], ...]

    def contains(self, t: float) -> bool:
        return any(start <= t < end for start, end in self.intervals)

    @property
    def start(self) -> float:
        return min(s for s, _ in self.intervals)

    @property
    def end(self) -> float:
        return max(e for _, e in self.intervals)

    @property
    def duration_s(self) -> float:
        """Seconds covered; overlapping intervals (faults that overlap) count once."""
        total, cur_start, cur_end = 0.0, 0.0, None
        for start, end in sorted(self.intervals):
            if cur_end is None or start > cur_end:
                total += 0.0 if cur_end is None else cur_end - cur_start
                cur_start, cur_end = start, end
            else:
                cur_end = max(cur_end, end)
        return total + (0.0 if cur_end is None else cur_end - cur_start)


def window_instant(start: float, end: float) -> float:
    """A window belongs to the scope containing its midpoint. Windows end at phase boundaries
    (`LoadConfig.window_cuts_s`), so a window lies in one phase and its midpoint is exact;
    recordings made before that rule had one-second windows that could straddle a boundary."""
    return (start + end) / 2.0


@dataclass
class LoadAggregate:
    """Mutable sum of load windows; the evaluator's working value, never exported."""

    windows: int = 0
    missing: int = 0
    window_seconds: float = 0.0
    missing_seconds: float = 0.0
    saturated: int = 0
    started: int = 0
    cancelled: int = 0
    late: int = 0
    dropped: int = 0
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(STATUS_CLASSES, 0))
    error_codes: dict[str, int] = field(default_factory=dict)
    transport: dict[str, int] = field(default_factory=dict)
    regions: dict[str, int] = field(default_factory=dict)
    first_token: HistogramAccumulator = field(default_factory=HistogramAccumulator)
    completion: HistogramAccumulator = field(default_factory=HistogramAccumulator)
    max_loop_lag_p99_ms: float = 0.0
    max_cpu_percent: float = 0.0
    first_start: float | None = None
    last_end: float | None = None
    # (first-token, completion) histograms of the saturated windows, kept by reference: they
    # are few, and only needed to tell whether they decide a latency criterion
    saturated_hists: list[tuple[str, str]] = field(default_factory=list)

    def add_window(self, w: LoadWindow) -> None:
        self.windows += 1
        self.window_seconds += w.end - w.start
        self.saturated += int(w.saturated)
        if w.saturated:
            self.saturated_hists.append((w.first_token_hist, w.completion_hist))
        self.started += w.started
        self.cancelled += w.cancelled
        self.late += w.late
        self.dropped += w.dropped
        for key, n in w.counts.items():
            self.counts[key] = self.counts.get(key, 0) + n
        _add_counts(self.error_codes, w.error_codes)
        _add_counts(self.transport, w.transport)
        _add_counts(self.regions, w.regions)
        self.first_token.add_encoded(w.first_token_hist)
        self.completion.add_encoded(w.completion_hist)
        self.max_loop_lag_p99_ms = max(self.max_loop_lag_p99_ms, w.loop_lag_p99_ms)
        self.max_cpu_percent = max(self.max_cpu_percent, w.cpu_percent)
        self._span(w.start, w.end)

    def add_missing(self, m: MissingWindow) -> None:
        self.missing += 1
        self.missing_seconds += m.end - m.start
        self._span(m.start, m.end)

    def add(self, other: LoadAggregate) -> None:
        for name in ("windows", "missing", "saturated", "started", "cancelled", "late", "dropped"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.window_seconds += other.window_seconds
        self.missing_seconds += other.missing_seconds
        _add_counts(self.counts, other.counts)
        _add_counts(self.error_codes, other.error_codes)
        _add_counts(self.transport, other.transport)
        _add_counts(self.regions, other.regions)
        self.first_token.add(other.first_token)
        self.completion.add(other.completion)
        self.saturated_hists.extend(other.saturated_hists)
        self.max_loop_lag_p99_ms = max(self.max_loop_lag_p99_ms, other.max_loop_lag_p99_ms)
        self.max_cpu_percent = max(self.max_cpu_percent, other.max_cpu_percent)
        if other.first_start is not None and other.last_end is not None:
            self._span(other.first_start, other.last_end)

    def unsaturated(self, which: int) -> HistogramAccumulator:
        """First-token (0) or completion (1) latencies of the windows that were not saturated."""
        every = self.first_token if which == 0 else self.completion
        part = HistogramAccumulator()
        for hists in self.saturated_hists:
            part.add_encoded(hists[which])
        return every.without(part)

    @property
    def ended(self) -> int:
        """Requests that ended with a status class (the rate denominator; cancelled excluded)."""
        return sum(self.counts.values())

    @property
    def server_failures(self) -> int:
        return server_failures(self.counts)

    @property
    def window_gap_fraction(self) -> float:
        total = self.window_seconds + self.missing_seconds
        return self.missing_seconds / total if total > 0 else 0.0

    def _span(self, start: float, end: float) -> None:
        self.first_start = start if self.first_start is None else min(self.first_start, start)
        self.last_end = end if self.last_end is None else max(self.last_end, end)


def _add_counts(into: dict[str, int], other: Mapping[str, int]) -> None:
    for key, n in other.items():
        into[key] = into.get(key, 0) + n


def aggregate_scopes(
    scopes: Sequence[Scope],
    windows: Iterable[LoadWindow],
    missing: Iterable[MissingWindow],
) -> list[LoadAggregate]:
    """One aggregate per scope. Each window is decoded once: it is added to the segment of
    scopes containing its midpoint, and scopes sum their segments."""
    # Between consecutive interval boundaries the set of containing scopes is constant.
    bounds = sorted({b for s in scopes for iv in s.intervals for b in iv})
    keys = [tuple(i for i, s in enumerate(scopes) if s.contains(t))
            for t in ([bounds[0] - 1.0] if bounds else []) + bounds]
    segments: dict[tuple[int, ...], LoadAggregate] = {}

    def segment(t: float) -> LoadAggregate | None:
        if not bounds:
            return None
        key = keys[bisect_right(bounds, t)]
        if not key:
            return None
        agg = segments.get(key)
        if agg is None:
            agg = segments[key] = LoadAggregate()
        return agg

    for w in windows:
        agg = segment(window_instant(w.start, w.end))
        if agg is not None:
            agg.add_window(w)
    for m in missing:
        agg = segment(window_instant(m.start, m.end))
        if agg is not None:
            agg.add_missing(m)
    result = [LoadAggregate() for _ in scopes]
    for key, agg in segments.items():
        for i in key:
            result[i].add(agg)
    return result


def unique_windows(windows: Iterable[LoadWindow]) -> list[LoadWindow]:
    """Windows deduplicated by identity (receiving one twice is harmless by contract)."""
    seen: dict[tuple[str, str, int, int], LoadWindow] = {}
    for w in windows:
        seen.setdefault(w.key, w)
    return list(seen.values())


# After each fault's scheduled end, windows are also cut every REVERT_CUT_STEP_S for
# REVERT_CUT_SPAN_S (chaos.run.plan), so the phase can end where the revert was verified.
REVERT_CUT_STEP_S = 0.05
REVERT_CUT_SPAN_S = 0.5


def booked_phases(rec: Recording) -> tuple[Phase, ...]:
    """The phases as judged: a fault phase ends where its revert was verified (the journalled
    `reverted_at`), snapped to the first window edge at or after it, and the phase after it
    starts there; a request that failed while the revert was still under way is the fault's,
    not the recovery's. Recordings whose faults were reverted on time are unchanged."""
    reverted = {f.id: f.reverted_at for f in rec.faults}
    edges = sorted({w.start for w in rec.windows} | {w.end for w in rec.windows})
    phases = list(rec.phases)
    for i, p in enumerate(phases):
        at = reverted.get(p.fault_id or "") if p.kind == "fault" else None
        if at is None or at <= p.end or not _has_grid(edges, p.end):
            continue  # on time, or a recording without the grid (older runs): as scheduled
        k = bisect_left(edges, at)
        new_end = edges[k] if k < len(edges) else at
        for j, q in enumerate(phases):
            if q.kind != "whole" and j != i and q.start == p.end and q.end > new_end:
                phases[j] = replace(q, start=new_end)
        phases[i] = replace(p, end=new_end)
    return tuple(phases)


def _has_grid(edges: Sequence[float], end: float) -> bool:
    """Windows were cut on the revert grid after `end` (runs since the grid exists)."""
    k = bisect_left(edges, end + REVERT_CUT_STEP_S - 0.001)
    return k < len(edges) and abs(edges[k] - (end + REVERT_CUT_STEP_S)) < 0.001
