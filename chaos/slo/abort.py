"""Live stop conditions: `AbortMonitor` fed with windows, samples and probe seconds (pure: the
caller passes `now`). A condition fires when it held continuously for its `for_s`."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from chaos.recording import LoadWindow, ProbeSecond, Sample, server_failures
from chaos.slo.histogram import HistogramAccumulator

AbortMetric = Literal["rate_5xx", "rate_2xx", "rate_429", "p95_first_token_ms",
                      "p95_completion_ms", "availability", "circuit_state", "queue_oldest_age_s"]
_WINDOW_METRICS = frozenset({"rate_5xx", "rate_2xx", "rate_429", "p95_first_token_ms",
                             "p95_completion_ms"})


@dataclass(frozen=True, slots=True)
class AbortCondition:
    """Natural units: fractions for rates and availability, ms for latencies, s for queue age."""

    name: str
    metric: AbortMetric
    above: float | None = None
    below: float | None = None
    for_s: float = 0.0
    labels: Mapping[str, str] = field(default_factory=dict)  # sample metrics: series filter

    def __post_init__(self) -> None:
        if (self.above is None) == (self.below is None):
            raise ValueError(f"abort condition {self.name}: give exactly one of above/below")

    def violated(self, value: float) -> bool:
        if self.above is not None:
            return value > self.above
        assert self.below is not None
        return value < self.below


@dataclass(frozen=True, slots=True)
class FiredCondition:
    name: str
    metric: str
    value: float  # the last violating value
    threshold: float
    comparison: str  # ">" or "<"
    since: float  # wall clock: first violating observation of the streak
    at: float  # wall clock: observation that completed `for_s`
    held_s: float


@dataclass(frozen=True, slots=True)
class AbortStatistics:
    windows: int
    late_windows: int  # arrived after their second was settled (not judged live)
    samples: int
    probes: int
    seconds_settled: int


@dataclass
class _Bucket:
    counts: dict[str, int] = field(default_factory=dict)
    first_token: HistogramAccumulator = field(default_factory=HistogramAccumulator)
    completion: HistogramAccumulator = field(default_factory=HistogramAccumulator)


@dataclass
class _Streak:
    since: float | None = None
    last_t: float = 0.0
    value: float = 0.0


class AbortMonitor:
    """Per-second rates and p95s from windows (a second is settled `settle_s` after it ends,
    so slower workers' windows are in), samples and probes as they arrive. Gaps neither start
    nor break a streak."""

    def __init__(self, conditions: tuple[AbortCondition, ...] | list[AbortCondition],
                 settle_s: float = 1.0, sample_interval_s: float = 1.0) -> None:
        self.conditions = tuple(conditions)
        self.settle_s = settle_s
        self.sample_interval_s = sample_interval_s
        self._buckets: dict[int, _Bucket] = {}
        self._settled_until = -math.inf  # seconds < this are settled
        self._streaks = {c.name: _Streak() for c in self.conditions}
        self._fired: FiredCondition | None = None
        self._windows = self._late = self._samples = self._probes = self._seconds = 0

    def feed(self, item: LoadWindow | Sample | ProbeSecond) -> None:
        if isinstance(item, LoadWindow):
            self._windows += 1
            second = math.floor(item.end - 1e-9)
            if second < self._settled_until:
                self._late += 1
                return
            b = self._buckets.setdefault(second, _Bucket())
            for k, n in item.counts.items():
                b.counts[k] = b.counts.get(k, 0) + n
            if any(c.metric in ("p95_first_token_ms",) for c in self.conditions):
                b.first_token.add_encoded(item.first_token_hist)
            if any(c.metric in ("p95_completion_ms",) for c in self.conditions):
                b.completion.add_encoded(item.completion_hist)
        elif isinstance(item, Sample):
            self._samples += 1
            for c in self.conditions:
                if c.metric == item.metric and all(item.labels.get(k) == v for k, v in c.labels.items()):
                    self._observe(c, item.t, item.value, self.sample_interval_s)
        else:
            self._probes += 1
            a = item.available
            for c in self.conditions:
                if c.metric == "availability":
                    self._observe(c, item.t, None if a is None else float(a), 1.0)

    def check(self, now: float) -> FiredCondition | None:
        """Settle the seconds ending before `now - settle_s`, then report the first condition
        that has held for its duration (once fired, it stays fired)."""
        limit = math.floor(now - self.settle_s)
        for second in sorted(s for s in self._buckets if s < limit):
            self._settle(second, self._buckets.pop(second))
        self._settled_until = max(self._settled_until, limit)
        return self._fired

    def statistics(self) -> AbortStatistics:
        return AbortStatistics(self._windows, self._late, self._samples, self._probes, self._seconds)

    def _settle(self, second: int, b: _Bucket) -> None:
        self._seconds += 1
        ended = sum(b.counts.values())
        values: dict[str, float | None] = {
            "rate_5xx": server_failures(b.counts) / ended if ended else None,
            "rate_2xx": b.counts.get("2xx", 0) / ended if ended else None,
            "rate_429": b.counts.get("429", 0) / ended if ended else None,
            "p95_first_token_ms": b.first_token.percentile_ms(95.0),
            "p95_completion_ms": b.completion.percentile_ms(95.0),
        }
        for c in self.conditions:
            if c.metric in _WINDOW_METRICS:
                self._observe(c, float(second), values[c.metric], 1.0)

    def _observe(self, c: AbortCondition, t: float, value: float | None, resolution_s: float) -> None:
        if self._fired is not None:
            return
        s = self._streaks[c.name]
        if value is None:
            return  # a gap: unknown, neither starts nor breaks a streak
        if not c.violated(value):
            s.since = None
            return
        if s.since is None:
            s.since = t
        s.last_t, s.value = t, value
        held = s.last_t - s.since + resolution_s
        if held >= c.for_s:
            threshold = c.above if c.above is not None else c.below
            assert threshold is not None
            self._fired = FiredCondition(c.name, c.metric, value, threshold,
                                         ">" if c.above is not None else "<", s.since,
                                         t + resolution_s, held)
