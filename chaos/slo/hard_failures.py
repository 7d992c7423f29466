"""Hard failures of the auth/admission path (redis_unavailable, invalid_token, gateway_unhealthy):
when each was first and last seen, and whether it was resolved before the run ended."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from chaos.recording import LoadWindow, ProbeSecond, Sample
from chaos.slo.limits import counter_increments
from chaos.slo.series import max_per_instant, points
from chaos.slo.verdict import Criterion, Verdict

HARD_FAILURE_METRIC = "hard_failures"
GATEWAY_UNHEALTHY = "gateway_unhealthy"


@dataclass(frozen=True, slots=True)
class HardFailureInterval:
    code: str
    first_seen: float
    last_seen: float
    occurrences: int  # windows' error codes + counter increments + failed probes
    resolved: bool

    @property
    def duration_s(self) -> float:
        return self.last_seen - self.first_seen


def _events(code: str, windows: Sequence[LoadWindow], samples: Sequence[Sample],
            probes: Sequence[ProbeSecond]) -> list[tuple[float, int]]:
    events = [(w.end, w.error_codes[code]) for w in windows if w.error_codes.get(code, 0) > 0]
    pts = max_per_instant(points(samples, HARD_FAILURE_METRIC, "code", code))
    events += [(t, int(n)) for t, n in counter_increments(pts, float("-inf"), float("inf"))]
    for p in probes:
        unhealthy = code == GATEWAY_UNHEALTHY and p.health_ok is False
        if unhealthy or (p.error is not None and code in p.error):
            events.append((p.t, 1))
    return events


def hard_failure_intervals(codes: Sequence[str], windows: Sequence[LoadWindow],
                           samples: Sequence[Sample], probes: Sequence[ProbeSecond],
                           run_end: float, quiet_s: float) -> list[HardFailureInterval]:
    out = []
    for code in codes:
        events = _events(code, windows, samples, probes)
        if not events:
            continue
        first = min(t for t, _ in events)
        last = max(t for t, _ in events)
        out.append(HardFailureInterval(code, first, last, sum(n for _, n in events),
                                       resolved=run_end - last >= quiet_s))
    return out


def judge_hard_failures(codes: Sequence[str], intervals: Sequence[HardFailureInterval],
                        quiet_s: float) -> list[Criterion]:
    by_code = {i.code: i for i in intervals}
    out = []
    for code in codes:
        cid = f"hard_failures.{code}@run"
        i = by_code.get(code)
        if i is None:
            out.append(Criterion(cid, Verdict.PASS, 0.0, 0.0, "count", "run",
                                 f"No {code} failure was seen.", comparison="unresolved <="))
            continue
        details = {"first_seen": i.first_seen, "last_seen": i.last_seen,
                   "occurrences": i.occurrences, "resolved": i.resolved, "quiet_s": quiet_s}
        if i.resolved:
            out.append(Criterion(cid, Verdict.PASS, 0.0, 0.0, "count", "run",
                                 f"{code} was seen {i.occurrences} times over {i.duration_s:.0f} s "
                                 f"and resolved (none in the last {quiet_s:g} s of the run).",
                                 window_start=i.first_seen, window_end=i.last_seen,
                                 comparison="unresolved <=", details=details))
        else:
            out.append(Criterion(cid, Verdict.FAIL, 1.0, 0.0, "count", "run",
                                 f"{code} was still occurring within {quiet_s:g} s of the run's end "
                                 f"({i.occurrences} occurrences since it first appeared).",
                                 window_start=i.first_seen, window_end=i.last_seen,
                                 comparison="unresolved <=", details=details))
    return out
