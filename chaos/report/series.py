"""Per-second time series of a recording, for charts and the live view (presentation, not judging)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from hdrh.histogram import HdrHistogram

from chaos.recording import (
    HIST_HIGHEST_US,
    HIST_LOWEST_US,
    HIST_SIGNIFICANT_DIGITS,
    STATUS_CLASSES,
    LoadWindow,
    Recording,
    Sample,
)


def new_histogram() -> HdrHistogram:
    return HdrHistogram(HIST_LOWEST_US, HIST_HIGHEST_US, HIST_SIGNIFICANT_DIGITS)


def merge_histograms(encoded: Iterable[str]) -> HdrHistogram:
    """One histogram holding every encoded histogram given (empty strings are skipped)."""
    merged = new_histogram()
    for text in encoded:
        if text:
            merged.decode_and_add(text.encode("ascii"))
    return merged


def p95_ms(hist: HdrHistogram) -> float | None:
    """The 95th percentile in milliseconds, or None for an empty histogram (a gap, not 0)."""
    if hist.get_total_count() == 0:
        return None
    return float(hist.get_value_at_percentile(95.0)) / 1000.0


@dataclass(frozen=True, slots=True)
class SecondPoint:
    """Every worker's windows that started in one wall-clock second (or one bucket of
    `span_s` seconds), merged."""

    t: float  # start of the second or bucket (wall clock)
    started: int
    counts: Mapping[str, int]
    regions: Mapping[str, int]
    in_flight: int
    p95_first_token_ms: float | None
    p95_completion_ms: float | None
    saturated: bool
    loop_lag_p99_ms: float
    cpu_percent: float
    span_s: float = 1.0  # seconds merged into this point; counts are totals over the span

    @property
    def ended(self) -> int:
        return sum(self.counts.values())

    def rate(self, status_class: str) -> float | None:
        """Share of requests that ended in this second with `status_class` (None: none ended)."""
        total = self.ended
        if total == 0:
            return None
        return self.counts.get(status_class, 0) / total


def load_series(windows: Iterable[LoadWindow], *, bucket_s: int = 1) -> list[SecondPoint]:
    """Merge worker windows into one point per wall-clock second (or per `bucket_s` seconds,
    aligned to multiples of it), in time order. `in_flight` is then the mean over the
    bucket's seconds with data, and `span_s` their number."""
    buckets: dict[int, list[LoadWindow]] = {}
    for w in windows:
        buckets.setdefault(math.floor(w.start / bucket_s) * bucket_s, []).append(w)
    points: list[SecondPoint] = []
    for second in sorted(buckets):
        group = buckets[second]
        span = len({math.floor(w.start) for w in group})  # seconds with data (a bucket at an edge has fewer)
        counts = dict.fromkeys(STATUS_CLASSES, 0)
        regions: dict[str, int] = {}
        for w in group:
            for k, v in w.counts.items():
                counts[k] = counts.get(k, 0) + v
            for k, v in w.regions.items():
                regions[k] = regions.get(k, 0) + v
        points.append(
            SecondPoint(
                t=float(second),
                started=sum(w.started for w in group),
                counts=counts,
                regions=regions,
                in_flight=round(sum(w.in_flight for w in group) / span),
                p95_first_token_ms=p95_ms(merge_histograms(w.first_token_hist for w in group)),
                p95_completion_ms=p95_ms(merge_histograms(w.completion_hist for w in group)),
                saturated=any(w.saturated for w in group),
                loop_lag_p99_ms=max(w.loop_lag_p99_ms for w in group),
                cpu_percent=max(w.cpu_percent for w in group),
                span_s=float(span),
            )
        )
    return points


@dataclass(frozen=True, slots=True)
class SampleSeries:
    """One logical metric with one label set over time (None values are gaps)."""

    metric: str
    labels: Mapping[str, str]
    t: list[float] = field(default_factory=list)
    values: list[float | None] = field(default_factory=list)

    @property
    def label_text(self) -> str:
        inner = ",".join(f"{k}={v}" for k, v in sorted(self.labels.items()))
        return f"{self.metric}{{{inner}}}" if inner else self.metric


def sample_series(samples: Iterable[Sample], metric: str) -> list[SampleSeries]:
    """Every series of one logical metric, one per label set, in time order."""
    by_labels: dict[tuple[tuple[str, str], ...], SampleSeries] = {}
    for s in sorted((s for s in samples if s.metric == metric), key=lambda s: s.t):
        key = tuple(sorted(s.labels.items()))
        series = by_labels.setdefault(key, SampleSeries(metric, dict(s.labels)))
        series.t.append(s.t)
        series.values.append(s.value)
    return list(by_labels.values())


@dataclass(frozen=True, slots=True)
class LoadTotals:
    """Totals over a whole recording, as shown in the evidence."""

    requests: int
    started: int
    counts: Mapping[str, int]
    error_codes: Mapping[str, int]
    regions: Mapping[str, int]
    cancelled: int
    dropped: int
    late: int
    missing_windows: int
    class_codes: Mapping[str, int] = field(default_factory=dict)  # "<class>:<code>" -> count


def load_totals(recording: Recording) -> LoadTotals:
    counts = dict.fromkeys(STATUS_CLASSES, 0)
    error_codes: dict[str, int] = {}
    class_codes: dict[str, int] = {}
    regions: dict[str, int] = {}
    for w in recording.windows:
        for target, source in ((counts, w.counts), (error_codes, w.error_codes), (regions, w.regions),
                               (class_codes, w.class_codes)):
            for k, v in source.items():
                target[k] = target.get(k, 0) + v
    return LoadTotals(
        requests=sum(counts.values()),
        started=sum(w.started for w in recording.windows),
        counts=counts,
        error_codes=error_codes,
        regions=regions,
        cancelled=sum(w.cancelled for w in recording.windows),
        dropped=sum(w.dropped for w in recording.windows),
        late=sum(w.late for w in recording.windows),
        missing_windows=len(recording.missing_windows),
        class_codes=dict(sorted(class_codes.items())),
    )


@dataclass(frozen=True, slots=True)
class DriverFigures:
    """How hard the load driver itself worked (saturated windows make latencies the driver's)."""

    windows: int
    saturated_windows: int
    max_loop_lag_p99_ms: float
    max_cpu_percent: float
    workers: int


def driver_figures(recording: Recording) -> DriverFigures:
    ws = recording.windows
    return DriverFigures(
        windows=len(ws),
        saturated_windows=sum(1 for w in ws if w.saturated),
        max_loop_lag_p99_ms=max((w.loop_lag_p99_ms for w in ws), default=0.0),
        max_cpu_percent=max((w.cpu_percent for w in ws), default=0.0),
        workers=len({w.worker_id for w in ws}),
    )
