"""Metric samples as time series: grouping by label, and continuous runs of a condition over gaps."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from chaos.recording import Sample

Point = tuple[float, float | None]


def points(samples: Iterable[Sample], metric: str, label: str | None = None,
           value: str | None = None) -> list[Point]:
    """Time-sorted (t, value) of `metric`, optionally where labels[label] == value.

    A gap sample without that label (the whole source failed) is a gap for every series.
    """
    out: list[Point] = []
    for s in samples:
        if s.metric != metric:
            continue
        if label is not None:
            have = s.labels.get(label)
            if have is None and s.value is None:
                pass  # a source-wide gap
            elif have != value:
                continue
        out.append((s.t, s.value))
    out.sort(key=lambda p: p[0])
    return out


def label_values(samples: Iterable[Sample], metric: str, label: str) -> list[str]:
    return sorted({s.labels[label] for s in samples if s.metric == metric and label in s.labels})


def max_per_instant(pts: Sequence[Point]) -> list[Point]:
    """Collapse several series sampled at the same instant into their maximum (gap if all gaps)."""
    by_t: dict[float, float | None] = {}
    for t, v in pts:
        if t not in by_t:
            by_t[t] = v
        elif v is not None:
            prev = by_t[t]
            by_t[t] = v if prev is None else max(prev, v)
    return sorted(by_t.items())


@dataclass(frozen=True, slots=True)
class Run:
    """A maximal run of points where a condition held, gaps bridged when it held on both sides."""

    first_t: float
    last_t: float
    bridged_gaps: int  # gap points inside the run, counted as holding (conservative)
    gaps_before: int  # gap points right before the run (unknown: it may have started earlier)
    gaps_after: int
    at_end: bool  # the run lasted until the last point

    def length_s(self, resolution_s: float) -> float:
        """Each holding point stands for one sampling interval."""
        return self.last_t - self.first_t + resolution_s

    def upper_s(self, resolution_s: float) -> float:
        """The length if the adjacent gaps held too."""
        return self.length_s(resolution_s) + (self.gaps_before + self.gaps_after) * resolution_s


def runs(pts: Sequence[Point], holds: Callable[[float], bool]) -> list[Run]:
    """Maximal runs where `holds(value)` over time-sorted points; a gap run between two holding
    points belongs to the run (the state is unknown there, so the conservative reading counts it)."""
    result: list[Run] = []
    first: float | None = None
    last = 0.0
    bridged = gaps_before = pending_gaps = 0
    gaps_since_false = 0
    for t, v in pts:
        if v is None:
            pending_gaps += 1
            continue
        if holds(v):
            if first is None:
                first = t
                gaps_before = gaps_since_false + pending_gaps
                bridged = 0
            else:
                bridged += pending_gaps
            last = t
            pending_gaps = 0
            gaps_since_false = 0
        else:
            if first is not None:
                result.append(Run(first, last, bridged, gaps_before, pending_gaps, False))
                first = None
            gaps_since_false = 0
            pending_gaps = 0
    if first is not None:
        result.append(Run(first, last, bridged, gaps_before, pending_gaps, True))
    return result


def gap_fraction(pts: Sequence[Point]) -> float:
    if not pts:
        return 1.0
    return sum(1 for _, v in pts if v is None) / len(pts)
