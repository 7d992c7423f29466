"""Confidence as context for the verdicts: Wilson intervals of rate criteria, and each fault
phase's latency shift against the baseline (Hodges-Lehmann, Mann-Whitney) from histograms.

Nothing here decides a verdict: the seed's thresholds on the point estimates do
(docs/evidence.md, "Confidence"). Pure functions of counts; no I/O, no clock, no numpy.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from statistics import NormalDist
from typing import Literal

from hdrh.histogram import HdrHistogram

from chaos.recording import HIST_HIGHEST_US, HIST_LOWEST_US, HIST_SIGNIFICANT_DIGITS
from chaos.slo.histogram import HistogramAccumulator
from chaos.slo.scope import LoadAggregate, Scope

Z95: float = NormalDist().inv_cdf(0.975)  # 1.959963984540054
# Hodges-Lehmann merges adjacent HDR buckets until a side has at most this many bins (hl_bins).
MAX_HL_BINS = 4096

Bins = Sequence[tuple[int, int]]  # (value_us, count), values ascending and distinct, counts > 0


# -- rates ---------------------------------------------------------------------------------

def wilson_interval(successes: int, n: int, z: float = Z95) -> tuple[float, float]:
    """The Wilson score interval of the proportion successes/n (fractions)."""
    if n <= 0 or not 0 <= successes <= n:
        raise ValueError(f"no proportion {successes}/{n}")
    p = successes / n
    z2 = z * z
    denominator = 1.0 + z2 / n
    centre = (p + z2 / (2 * n)) / denominator
    half = z / denominator * math.sqrt(p * (1.0 - p) / n + z2 / (4 * n * n))
    # At 0/n and n/n the bound is exactly 0 or 1; float rounding must not move it.
    low = 0.0 if successes == 0 else max(0.0, centre - half)
    high = 1.0 if successes == n else min(1.0, centre + half)
    return low, high


def interval_decides(interval: tuple[float, float], threshold: float, comparison: str) -> bool:
    """Whether the whole interval lies on one side of the threshold (the comparison's side,
    bound included, or strictly the other): a straddled threshold is not shown either way."""
    low, high = interval
    if comparison == ">=":
        return low >= threshold or high < threshold
    if comparison == "<=":
        return high <= threshold or low > threshold
    raise ValueError(f"no rate comparison {comparison!r}")


def rate_confidence(successes: int, n: int, threshold: float, comparison: str) -> dict[str, object]:
    """Criterion details: n, `wilson95` [low, high] and `shown_at_95`; empty without data."""
    if n <= 0:
        return {}
    interval = wilson_interval(successes, n)
    return {"n": n, "wilson95": [interval[0], interval[1]],
            "shown_at_95": interval_decides(interval, threshold, comparison)}


# -- latency shift on binned samples ---------------------------------------------------------

@dataclass(frozen=True, slots=True)
class MannWhitney:
    u: float  # pairs (x, y) with x > y, ties counted half
    variance: float  # of U under no shift, tie-corrected
    z: float  # continuity-corrected normal score of |U - n1 n2 / 2|
    p_value: float  # two-sided


def bins_of(values: Sequence[int]) -> list[tuple[int, int]]:
    """Plain samples as bins (each distinct value one bin)."""
    counts: dict[int, int] = {}
    for v in values:
        counts[v] = counts.get(v, 0) + 1
    return sorted(counts.items())


def _total(bins: Bins) -> int:
    return sum(c for _, c in bins)


def mann_whitney(x: Bins, y: Bins) -> MannWhitney | None:
    """Mann-Whitney U of x against y, two-sided, with the normal approximation corrected for
    ties (tied values share a bin) and for continuity; one merged pass over the bins. None
    when a side is empty."""
    n1, n2 = _total(x), _total(y)
    if n1 == 0 or n2 == 0:
        return None
    twice_u = 0  # 2U, exact in integers
    ties = 0  # sum of t^3 - t over tied groups
    y_below = 0
    i = j = 0
    while i < len(x) or j < len(y):
        vx = x[i][0] if i < len(x) else None
        vy = y[j][0] if j < len(y) else None
        v = vx if vy is None else vy if vx is None else min(vx, vy)
        cx = x[i][1] if vx == v else 0
        cy = y[j][1] if vy == v else 0
        twice_u += cx * (2 * y_below + cy)
        t = cx + cy
        ties += t * t * t - t
        y_below += cy
        i += vx == v
        j += vy == v
    u = twice_u / 2
    n = n1 + n2
    variance = n1 * n2 / 12 * ((n + 1) - ties / (n * (n - 1)))
    if variance <= 0:  # every value tied: no evidence of a shift either way
        return MannWhitney(u, 0.0, 0.0, 1.0)
    z = max(0.0, abs(u - n1 * n2 / 2) - 0.5) / math.sqrt(variance)
    return MannWhitney(u, variance, z, min(1.0, math.erfc(z / math.sqrt(2))))


def hodges_lehmann(x: Bins, y: Bins) -> float | None:
    """The median of every pairwise difference x_i - y_j (bins weighted by count products);
    None when a side is empty. O((bins_x + bins_y) * log2(value range)): a binary search on
    the integer difference, each step counting the pairs at or below it in one sweep."""
    nx, ny = _total(x), _total(y)
    if nx == 0 or ny == 0:
        return None
    pairs = nx * ny
    low = _kth_difference(x, y, (pairs + 1) // 2)
    high = low if pairs % 2 else _kth_difference(x, y, pairs // 2 + 1)
    return (low + high) / 2


def _kth_difference(x: Bins, y: Bins, k: int) -> int:
    """The k-th smallest (1-based) of the weighted differences x_i - y_j."""
    yv = [v for v, _ in y]
    at_or_above = [0] * (len(y) + 1)  # at_or_above[j]: count of y[j:]
    for j in range(len(y) - 1, -1, -1):
        at_or_above[j] = at_or_above[j + 1] + y[j][1]

    def count_at_most(d: int) -> int:
        # pairs with x - y <= d, i.e. y >= x - d; x ascending moves the bound up
        total, j = 0, 0
        for vx, cx in x:
            bound = vx - d
            while j < len(yv) and yv[j] < bound:
                j += 1
            total += cx * at_or_above[j]
        return total

    lo, hi = x[0][0] - yv[-1] - 1, x[-1][0] - yv[0]  # count(lo) == 0 < k <= count(hi)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if count_at_most(mid) >= k:
            hi = mid
        else:
            lo = mid
    return hi


_TEMPLATE = HdrHistogram(HIST_LOWEST_US, HIST_HIGHEST_US, HIST_SIGNIFICANT_DIGITS)


def histogram_ranges(acc: HistogramAccumulator, merge: int = 1) -> list[tuple[int, int, int]]:
    """The accumulator's non-zero counts, `merge` adjacent HDR buckets at a time, as
    (lowest us, highest us, count) in ascending order: every value counted lies in its range."""
    if acc.total == 0:
        return []
    # The accumulator keeps its counts private; read them in place, over its index range.
    lo, hi = acc._lo, acc._hi
    grouped: dict[int, int] = {}
    for offset, count in enumerate(acc._counts[lo:hi + 1]):
        if count:
            group = (lo + offset) // merge
            grouped[group] = grouped.get(group, 0) + int(count)
    # dict order is insertion order, so index order: ranges ascend
    return [(_lowest_us(g * merge), _highest_us(g * merge + merge - 1), count)
            for g, count in grouped.items()]


def _lowest_us(index: int) -> int:
    return int(_TEMPLATE.get_lowest_equivalent_value(_TEMPLATE.get_value_from_index(index)))


def _highest_us(index: int) -> int:
    return int(_TEMPLATE.get_highest_equivalent_value(_TEMPLATE.get_value_from_index(index)))


def midpoints(ranges: Sequence[tuple[int, int, int]]) -> list[tuple[int, int]]:
    return [((low + high) // 2, count) for low, high, count in ranges]


def hl_ranges(acc: HistogramAccumulator, max_bins: int = MAX_HL_BINS) -> list[tuple[int, int, int]]:
    """Ranges for Hodges-Lehmann: single HDR buckets, or 2, 4, 8... adjacent ones merged
    until at most `max_bins` remain (the cap on its work; its bounds widen as they merge)."""
    merge = 1
    while len(ranges := histogram_ranges(acc, merge)) > max_bins:
        merge *= 2
    return ranges


def binned_hodges_lehmann(x: Sequence[tuple[int, int, int]], y: Sequence[tuple[int, int, int]]
                          ) -> tuple[float, float, float] | None:
    """(estimate, low, high) of the shift x - y from ranges: the estimate at the ranges'
    midpoints; the median over the unbinned values lies in [low, high], the medians with
    every difference at its least and at its greatest (an order statistic is monotone in
    every element). None when a side is empty."""
    mid = hodges_lehmann(midpoints(x), midpoints(y))
    if mid is None:
        return None
    low = hodges_lehmann([(a, c) for a, _, c in x], [(b, c) for _, b, c in y]) or 0.0
    high = hodges_lehmann([(b, c) for _, b, c in x], [(a, c) for a, _, c in y]) or 0.0
    return mid, low, high


Latency = Literal["first_token", "completion"]


@dataclass(frozen=True, slots=True)
class LatencyShift:
    """One latency of one fault phase against the baseline phases: context, never a verdict.

    Over complete streams, from the scopes' histograms (bucket midpoints)."""

    scope: str  # "fault:<id>"
    latency: Latency
    n_baseline: int
    n_fault: int
    median_shift_ms: float | None  # Hodges-Lehmann: median of (fault - baseline) over all pairs
    p_value: float | None  # Mann-Whitney U, two-sided, normal approximation, tie-corrected
    prob_slower: float | None  # U / (n_fault n_baseline): P(fault > baseline), ties half
    # the shift over the unbinned latencies lies in [low, high] (the bins' bound, not a CI)
    shift_low_ms: float | None
    shift_high_ms: float | None
    baseline: str = "baseline"  # the phases compared against (their names, joined by "+")


def latency_shift(scope: str, baseline_name: str, latency: Latency, baseline: HistogramAccumulator,
                  fault: HistogramAccumulator, max_bins: int = MAX_HL_BINS) -> LatencyShift:
    mw = mann_whitney(midpoints(histogram_ranges(fault)), midpoints(histogram_ranges(baseline)))
    shift = binned_hodges_lehmann(hl_ranges(fault, max_bins), hl_ranges(baseline, max_bins))
    pairs = baseline.total * fault.total
    return LatencyShift(
        scope=scope, latency=latency, n_baseline=baseline.total, n_fault=fault.total,
        median_shift_ms=None if shift is None else shift[0] / 1000.0,
        p_value=None if mw is None else mw.p_value,
        prob_slower=None if mw is None else mw.u / pairs,
        shift_low_ms=None if shift is None else shift[1] / 1000.0,
        shift_high_ms=None if shift is None else shift[2] / 1000.0, baseline=baseline_name,
    )


def latency_shifts(scopes: Sequence[Scope], aggregates: Sequence[LoadAggregate],
                   phase_kinds: Mapping[str, str], max_bins: int = MAX_HL_BINS
                   ) -> tuple[LatencyShift, ...]:
    """First-token and completion shift of each fault phase against the baseline phases
    (together); none without a baseline phase."""
    base_first, base_completion = HistogramAccumulator(), HistogramAccumulator()
    names = []
    for scope, agg in zip(scopes, aggregates, strict=True):
        if phase_kinds.get(scope.name) == "baseline":
            names.append(scope.name)
            base_first.add(agg.first_token)
            base_completion.add(agg.completion)
    if not names:
        return ()
    baseline_name = "+".join(names)
    out = []
    for scope, agg in zip(scopes, aggregates, strict=True):
        if phase_kinds.get(scope.name) == "fault":
            out.append(latency_shift(scope.name, baseline_name, "first_token", base_first,
                                     agg.first_token, max_bins))
            out.append(latency_shift(scope.name, baseline_name, "completion", base_completion,
                                     agg.completion, max_bins))
    return tuple(out)
