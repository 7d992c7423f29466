"""Rollback triggers of the program, evaluated on consecutive 1-minute windows from run start."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from chaos.recording import LoadWindow, server_failures
from chaos.slo.catalog import ROLLBACK_MINUTE_S, rollback_minutes
from chaos.slo.config import Thresholds
from chaos.slo.scope import window_instant
from chaos.slo.series import Point, runs
from chaos.slo.tier_rules import at_least, at_most
from chaos.slo.verdict import Criterion, Verdict


@dataclass(frozen=True, slots=True)
class Minute:
    index: int
    start: float
    ok_2xx: int
    failures: int  # 5xx, transport and broken streams (server_failures)
    ended: int


def minutes(windows: Sequence[LoadWindow], run_start: float, run_end: float,
            minute_s: float = ROLLBACK_MINUTE_S) -> list[Minute]:
    """Whole minutes [run_start + 60 i, + 60) inside the run; a partial last minute is left out."""
    n = int((run_end - run_start) // minute_s)
    acc = [[0, 0, 0] for _ in range(n)]
    for w in windows:
        i = int((window_instant(w.start, w.end) - run_start) // minute_s)
        if 0 <= i < n:
            c = w.counts
            acc[i][0] += c.get("2xx", 0)
            acc[i][1] += server_failures(c)
            acc[i][2] += sum(c.values())
    return [Minute(i, run_start + i * minute_s, a[0], a[1], a[2]) for i, a in enumerate(acc)]


def _streak_criterion(cid: str, what: str, ms: Sequence[Minute], bad: Callable[[Minute], bool],
                      need: int, tier_for: Callable[[Minute], str],
                      minute_s: float = ROLLBACK_MINUTE_S) -> Criterion:
    # A minute without ended requests is a gap (None); gaps between bad minutes count as bad.
    pts: list[Point] = [(m.start, None if m.ended == 0 else float(bad(m))) for m in ms]
    streaks = runs(pts, lambda v: v >= 1.0)
    longest = max((r.length_s(minute_s) / minute_s for r in streaks), default=0.0)
    best = max(streaks, key=lambda r: r.last_t - r.first_t) if streaks else None
    details = {"minutes": len(ms), "bad_minutes": sum(1 for m in ms if m.ended and bad(m)),
               "empty_minutes": sum(1 for m in ms if m.ended == 0),
               "tiers": sorted({tier_for(m) for m in ms})}
    ws = best.first_t if best else None
    we = best.last_t + minute_s if best else None
    if not ms or all(m.ended == 0 for m in ms):
        return Criterion(cid, Verdict.NOT_APPLICABLE, None, float(need), "count", "run",
                         f"n/a: the run has no whole minute ({minute_s:g} s) with ended requests, "
                         f"so it cannot show {need} consecutive minutes of {what}.",
                         comparison="<", details=details)
    fired = longest >= need
    if not fired and len(ms) < need:
        # Too short to show the streak at all: the run has shown nothing wrong here, and could
        # not show the trigger firing either. Not a verdict (the tier criteria still judge it).
        return Criterion(cid, Verdict.NOT_APPLICABLE, longest, float(need), "count", "run",
                         f"n/a: the run has {len(ms)} whole minute(s) of {minute_s:g} s, fewer "
                         f"than the {need} consecutive minutes of {what} the trigger needs; "
                         f"longest streak {longest:.0f}.", comparison="<", details=details)
    reason = (f"The longest streak of consecutive minutes with {what} was {longest:.0f}; the trigger "
              f"fires at {need}.")
    return Criterion(cid, Verdict.FAIL if fired else Verdict.PASS, longest, float(need), "count",
                     "run", reason, window_start=ws, window_end=we, comparison="<",
                     details=details)


def judge_rate_triggers(ms: Sequence[Minute], thresholds_for: Callable[[Minute], Thresholds],
                        minute_s: float = ROLLBACK_MINUTE_S) -> list[Criterion]:
    def bad_5xx(m: Minute) -> bool:
        return not at_most(m.failures, m.ended, thresholds_for(m).rate_5xx.value)

    def bad_2xx(m: Minute) -> bool:
        return not at_least(m.ok_2xx, m.ended, thresholds_for(m).rate_2xx.value)

    def tier_for(m: Minute) -> str:
        return thresholds_for(m).tier

    return [
        _streak_criterion("rollback.rate_5xx_5min@run", "5xx above the tier threshold", ms,
                          bad_5xx, rollback_minutes("rate_5xx_5min"), tier_for, minute_s),
        _streak_criterion("rollback.rate_2xx_10min@run", "2xx below the tier minimum", ms,
                          bad_2xx, rollback_minutes("rate_2xx_10min"), tier_for, minute_s),
    ]


def as_rollback(c: Criterion, cid: str, reason_prefix: str) -> Criterion:
    """Restate a limit finding as a rollback trigger criterion."""
    return Criterion(cid, c.verdict, c.measured, c.threshold, c.unit, c.scope,
                     f"{reason_prefix}: {c.reason}", c.window_start, c.window_end, c.comparison,
                     c.override, c.details)
