"""Tier SLO criteria of one scope: availability, 2xx minimum, 5xx, 429, p95 first token and completion."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache

from chaos.recording import ProbeSecond
from chaos.slo.catalog import PROBE_INTERVAL_S
from chaos.slo.confidence import rate_confidence
from chaos.slo.config import EvaluationConfig, Threshold, Thresholds
from chaos.slo.scope import LoadAggregate, Scope
from chaos.slo.verdict import Criterion, Verdict


@dataclass(frozen=True, slots=True)
class Availability:
    """Probe seconds of one scope."""

    expected: int
    with_data: int
    available: int

    @property
    def value(self) -> float | None:
        return self.available / self.with_data if self.with_data else None

    @property
    def gap_fraction(self) -> float:
        if self.expected <= 0:
            return 1.0
        return max(0.0, 1.0 - self.with_data / self.expected)


@dataclass(frozen=True, slots=True)
class PhaseSummary:
    """One row of the per-phase SLO table (measured values; None where there was no data)."""

    scope: str
    tier: str
    start: float
    end: float
    requests: int
    availability: float | None
    rate_2xx: float | None
    rate_5xx: float | None
    rate_429: float | None
    p95_first_token_ms: float | None
    p95_completion_ms: float | None
    windows: int
    missing_windows: int
    saturated_windows: int
    verdict: Verdict


def probe_availability(scope: Scope, probes: Sequence[ProbeSecond]) -> Availability:
    # Probe seconds that must end inside the scope: a probe ends every interval, so a scope
    # of 7.5 s holds 7 or 8 of them; only a shortfall below 7 is a gap.
    expected = math.floor(scope.duration_s / PROBE_INTERVAL_S + 1e-9)
    with_data = available = 0
    for p in probes:
        if scope.contains(p.booked_at):
            a = p.available
            if a is not None:
                with_data += 1
                available += int(a)
    return Availability(expected, with_data, available)


@lru_cache(maxsize=256)
def _rational(limit: float) -> tuple[int, int]:
    """The decimal a threshold was written as (0.003 -> 3/1000), not its binary float."""
    f = Fraction(repr(limit))
    return f.numerator, f.denominator


def at_most(numerator: int, denominator: int, limit: float) -> bool:
    """Exact rational comparison: 3/1000 against 0.3% is equal, so it passes."""
    p, q = _rational(limit)
    return numerator * q <= p * denominator


def at_least(numerator: int, denominator: int, limit: float) -> bool:
    p, q = _rational(limit)
    return numerator * q >= p * denominator


def _pct(x: float | None) -> float | None:
    return None if x is None else x * 100.0


class _Judge:
    """Builds one scope's criteria with shared id/scope/window fields."""

    def __init__(self, scope: Scope, agg: LoadAggregate, config: EvaluationConfig) -> None:
        self.scope = scope
        self.agg = agg
        self.config = config
        self.prefix = f"tier_{scope.tier.lower()}"

    def make(self, name: str, verdict: Verdict, measured: float | None, threshold: Threshold,
             unit: str, comparison: str, reason: str, **details: object) -> Criterion:
        shown = threshold.value * 100.0 if unit == "%" else threshold.value
        return Criterion(
            id=f"{self.prefix}.{name}@{self.scope.name}",
            verdict=verdict,
            measured=measured,
            threshold=shown,
            unit=unit,
            scope=self.scope.name,
            reason=reason,
            window_start=self.scope.start,
            window_end=self.scope.end,
            comparison=comparison,
            override=threshold.override,
            details=details,
        )


def judge_scope(
    scope: Scope,
    agg: LoadAggregate,
    availability: Availability,
    thresholds: Thresholds,
    config: EvaluationConfig,
) -> tuple[list[Criterion], PhaseSummary]:
    j = _Judge(scope, agg, config)
    criteria = [_availability(j, availability, thresholds.availability)]
    criteria += _rates(j, thresholds)
    criteria += _latencies(j, thresholds)
    den = agg.ended
    summary = PhaseSummary(
        scope=scope.name, tier=scope.tier, start=scope.start, end=scope.end, requests=den,
        availability=availability.value,
        rate_2xx=agg.counts.get("2xx", 0) / den if den else None,
        rate_5xx=agg.server_failures / den if den else None,
        rate_429=agg.counts.get("429", 0) / den if den else None,
        p95_first_token_ms=agg.first_token.percentile_ms(95.0),
        p95_completion_ms=agg.completion.percentile_ms(95.0),
        windows=agg.windows, missing_windows=agg.missing, saturated_windows=agg.saturated,
        verdict=Verdict.combine(c.verdict for c in criteria),
    )
    return criteria, summary


def _availability(j: _Judge, a: Availability, t: Threshold) -> Criterion:
    details = {"probe_seconds_expected": a.expected, "probe_seconds_with_data": a.with_data,
               "probe_seconds_available": a.available, "gap_fraction": round(a.gap_fraction, 6),
               **rate_confidence(a.available, a.with_data, t.value, ">=")}
    value = a.value
    if value is None:
        return j.make("availability", Verdict.INCONCLUSIVE, None, t, "%", ">=",
                      "No prober second with data in this scope.", **details)
    ok = at_least(a.available, a.with_data, t.value)
    if a.gap_fraction > j.config.max_probe_gap_fraction:
        return j.make("availability", Verdict.INCONCLUSIVE, _pct(value), t, "%", ">=",
                      f"Probe gaps cover {a.gap_fraction:.1%} of the scope, over the "
                      f"{j.config.max_probe_gap_fraction:.1%} allowed.", **details)
    verdict = Verdict.PASS if ok else Verdict.FAIL
    return j.make("availability", verdict, _pct(value), t, "%", ">=",
                  f"{a.available} of {a.with_data} probe seconds were available "
                  f"({value:.3%}) against a minimum of {t.value:.3%}.", **details)


def _load_gap(j: _Judge) -> str | None:
    gap = j.agg.window_gap_fraction
    if gap > j.config.max_window_gap_fraction:
        return (f"Missing load windows cover {gap:.1%} of the scope's worker-seconds, over the "
                f"{j.config.max_window_gap_fraction:.1%} allowed.")
    return None


def _rates(j: _Judge, th: Thresholds) -> list[Criterion]:
    agg = j.agg
    den = agg.ended
    specs = [
        ("rate_2xx", agg.counts.get("2xx", 0), th.rate_2xx, ">=", "complete streams (2xx)"),
        ("rate_5xx", agg.server_failures, th.rate_5xx, "<=", "server-side failures (5xx, transport, broken/truncated/stalled/malformed streams)"),
        ("rate_429", agg.counts.get("429", 0), th.rate_429, "<=", "429 load-shedding responses"),
    ]
    gap = _load_gap(j)
    out = []
    for name, num, t, cmp, what in specs:
        details = {"numerator": num, "denominator": den, "missing_windows": agg.missing,
                   "cancelled_excluded": agg.cancelled, **rate_confidence(num, den, t.value, cmp)}
        if den == 0:
            out.append(j.make(name, Verdict.INCONCLUSIVE, None, t, "%", cmp,
                              "No request ended in this scope.", **details))
            continue
        value = num / den
        if gap is not None:
            out.append(j.make(name, Verdict.INCONCLUSIVE, _pct(value), t, "%", cmp, gap, **details))
            continue
        ok = at_least(num, den, t.value) if cmp == ">=" else at_most(num, den, t.value)
        bound = "minimum" if cmp == ">=" else "maximum"
        out.append(j.make(name, Verdict.PASS if ok else Verdict.FAIL, _pct(value), t, "%", cmp,
                          f"{num} of {den} ended requests were {what} ({value:.3%}) against a "
                          f"{bound} of {t.value:.3%}.", **details))
    return out


def _latencies(j: _Judge, th: Thresholds) -> list[Criterion]:
    agg = j.agg
    out = []
    for which, (name, hist, t, what) in enumerate((
        ("p95_first_token", agg.first_token, th.p95_first_token, "first-token"),
        ("p95_completion", agg.completion, th.p95_completion, "completion"),
    )):
        p95 = hist.percentile_ms(95.0)
        details: dict[str, object] = {
            "count": hist.total, "saturated_windows": agg.saturated, "windows": agg.windows,
            "resolution": "HDR histogram, 3 significant digits"}
        saturated_share = agg.saturated / agg.windows if agg.windows else 0.0
        if hist.total < j.config.min_requests_for_p95:
            verdict, reason = Verdict.INCONCLUSIVE, (
                f"Only {hist.total} complete streams in this scope (n of the p95: latencies "
                f"are over complete streams only), fewer than the "
                f"{j.config.min_requests_for_p95} needed for an honest p95.")
        elif (gap := _load_gap(j)) is not None:
            verdict, reason = Verdict.INCONCLUSIVE, gap
        else:
            assert p95 is not None
            verdict = Verdict.PASS if p95 <= t.value else Verdict.FAIL
            reason = (f"p95 {what} latency was {p95:,.0f} ms over {hist.total} complete streams "
                      f"against a maximum of {t.value:,.0f} ms.")
            if saturated_share > j.config.max_saturated_fraction:
                verdict, reason = _saturated(j, which, verdict, reason, t, what, details)
        out.append(j.make(name, verdict, p95, t, "ms", "<=", reason, **details))
    return out


def _saturated(j: _Judge, which: int, verdict: Verdict, reason: str, t: Threshold, what: str,
               details: dict[str, object]) -> tuple[Verdict, str]:
    """Whether the saturated windows decide the criterion. A saturated driver reads its clock
    late, so it can only make latencies look longer: a PASS with them stands; a FAIL stands
    only when the windows that were not saturated fail on their own."""
    agg = j.agg
    flagged = (f"The load driver was saturated in {agg.saturated} of {agg.windows} windows")
    if verdict is Verdict.PASS:
        return verdict, (f"{reason} {flagged}; a saturated driver can only inflate measured "
                         "latencies, so the PASS stands.")
    clean = agg.unsaturated(which)
    clean_p95 = clean.percentile_ms(95.0)
    details["unsaturated_count"] = clean.total
    details["unsaturated_p95_ms"] = clean_p95
    if clean.total < j.config.min_requests_for_p95 or clean_p95 is None:
        return Verdict.INCONCLUSIVE, (
            f"{reason} {flagged}, and the other windows hold only {clean.total} {what} "
            "latencies: these latencies are partly the driver's.")
    if clean_p95 > t.value:
        return Verdict.FAIL, (
            f"{reason} {flagged}; without them the p95 is still {clean_p95:,.0f} ms over "
            f"{clean.total} requests, so the FAIL stands.")
    return Verdict.INCONCLUSIVE, (
        f"{reason} {flagged}, and without them the p95 is {clean_p95:,.0f} ms: the saturated "
        "windows decide it, so these latencies are partly the driver's.")
