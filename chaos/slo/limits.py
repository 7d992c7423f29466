"""Run-wide limits: provider circuit open intervals, queue oldest-job age, baseline failovers.

Circuit state encoding: 0 closed, 1 open, 0.5 half-open. The seed's limit is a circuit that
"remains open": the open state. A breaker that cycles open -> half-open -> open because its
probes keep failing has not recovered, so a half-open stretch *between* two open ones counts
as open; a half-open stretch that ends closed (or the run), or that no open state precedes
(an idle breaker waiting for traffic), is not open: it is reported on its own, with its
duration, and never fails the limit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from chaos.recording import Phase, Sample
from chaos.slo.series import Point, Run, gap_fraction, label_values, max_per_instant, points, runs
from chaos.slo.verdict import Criterion, Verdict

CIRCUIT_METRIC = "circuit_state"
QUEUE_METRIC = "queue_oldest_age_s"
ACTIVE_REGION_METRIC = "active_region"
FAILOVERS_METRIC = "failovers_total"


OPEN_VALUE = 1.0
HALF_OPEN_VALUE = 0.5


def circuit_is_open(value: float) -> bool:
    return value >= OPEN_VALUE


def circuit_is_half_open(value: float) -> bool:
    return 0.0 < value < OPEN_VALUE


def open_states(pts: Sequence[Point]) -> list[Point]:
    """The points with each half-open stretch read as open when open states come right before
    and after it (a failed probe re-opened the breaker), else as not open (0.5 kept)."""
    out = list(pts)
    known = [i for i, (_, v) in enumerate(out) if v is not None]
    k = 0
    while k < len(known):
        i = known[k]
        value = out[i][1]
        if value is None or not circuit_is_half_open(value):
            k += 1
            continue
        j = k
        while j < len(known) and circuit_is_half_open(out[known[j]][1] or 0.0):
            j += 1
        before = out[known[k - 1]][1] if k > 0 else None
        after = out[known[j]][1] if j < len(known) else None
        if before is not None and after is not None and circuit_is_open(before) and circuit_is_open(after):
            for m in known[k:j]:
                out[m] = (out[m][0], OPEN_VALUE)
        k = j
    return out


@dataclass(frozen=True, slots=True)
class CircuitFinding:
    route: str
    longest: Run | None
    longest_s: float | None  # None: no data
    upper_s: float | None
    gap_fraction: float
    half_open_longest_s: float = 0.0  # half-open stretches not counted as open
    half_open_total_s: float = 0.0


def circuit_finding(samples: Sequence[Sample], route: str, resolution_s: float) -> CircuitFinding:
    # One series per gateway (region label) plus label-less gaps from sources that never expose
    # the metric (the router): a route's circuit is its worst gateway's at each instant.
    pts = open_states(max_per_instant(points(samples, CIRCUIT_METRIC, "route", route)))
    known = [p for p in pts if p[1] is not None]
    if not known:
        return CircuitFinding(route, None, None, None, 1.0)
    half = runs(pts, circuit_is_half_open)
    half_longest = max((r.length_s(resolution_s) for r in half), default=0.0)
    half_total = resolution_s * sum(1 for _, v in known if v is not None and circuit_is_half_open(v))
    found = runs(pts, circuit_is_open)
    if not found:
        return CircuitFinding(route, None, 0.0, 0.0, gap_fraction(pts), half_longest, half_total)
    longest = max(found, key=lambda r: (r.length_s(resolution_s), r.upper_s(resolution_s)))
    upper = max(r.upper_s(resolution_s) for r in found)
    return CircuitFinding(route, longest, longest.length_s(resolution_s), upper, gap_fraction(pts),
                          half_longest, half_total)


def circuit_routes(samples: Sequence[Sample], primary: str) -> list[str]:
    return sorted(set(label_values(samples, CIRCUIT_METRIC, "route")) | {primary})


def judge_circuit(f: CircuitFinding, limit_s: float, resolution_s: float, max_gap: float,
                  criterion_id: str, scope: str = "run") -> Criterion:
    details: dict[str, object] = {
        "route": f.route, "resolution_s": resolution_s, "gap_fraction": round(f.gap_fraction, 6),
        "open_rule": ("the open state (1); a half-open stretch counts as open only between two "
                      "open states (a failed probe re-opened it)"),
        "half_open_longest_s": f.half_open_longest_s, "half_open_total_s": f.half_open_total_s,
    }
    if f.longest_s is None:
        return Criterion(criterion_id, Verdict.INCONCLUSIVE, None, limit_s, "s", scope,
                         f"No circuit_state samples for route {f.route}.", comparison="<=",
                         details=details)
    run = f.longest
    ws = we = None
    if run is not None:
        ws, we = run.first_t, run.last_t + resolution_s
        details |= {"bridged_gap_samples": run.bridged_gaps, "upper_bound_s": f.upper_s,
                    "open_at_end": run.at_end}
    measured = f.longest_s
    bridged = (f" ({run.bridged_gaps} gap samples inside it counted as open)"
               if run is not None and run.bridged_gaps else "")
    if measured > limit_s:
        verdict = Verdict.FAIL
        reason = (f"The {f.route} circuit stayed open {measured:.0f} s continuously{bridged}, "
                  f"longer than {limit_s:.0f} s (sampling resolution {resolution_s:g} s).")
    elif (f.upper_s or 0.0) > limit_s or f.gap_fraction > max_gap:
        verdict = Verdict.INCONCLUSIVE
        reason = (f"The longest observed open interval of the {f.route} circuit was {measured:.0f} s, "
                  f"but sampling gaps leave up to {f.upper_s or 0.0:.0f} s possible against "
                  f"{limit_s:.0f} s.")
    else:
        verdict = Verdict.PASS
        reason = (f"The longest continuous open interval of the {f.route} circuit was "
                  f"{measured:.0f} s{bridged}, within {limit_s:.0f} s (sampling resolution "
                  f"{resolution_s:g} s).")
    return Criterion(criterion_id, verdict, measured, limit_s, "s", scope, reason,
                     window_start=ws, window_end=we, comparison="<=", details=details)


@dataclass(frozen=True, slots=True)
class QueueFinding:
    max_age_s: float | None
    max_at: float | None
    seconds_above: float
    longest_above: Run | None
    gap_fraction: float
    samples: int


def queue_finding(samples: Sequence[Sample], limit_s: float, resolution_s: float) -> QueueFinding:
    pts = max_per_instant(points(samples, QUEUE_METRIC))
    known = [(t, v) for t, v in pts if v is not None]
    if not known:
        return QueueFinding(None, None, 0.0, None, 1.0, len(pts))
    max_t, max_v = max(known, key=lambda p: p[1])
    above = sum(resolution_s for _, v in known if v > limit_s)
    over = runs(pts, lambda v: v > limit_s)
    longest = max(over, key=lambda r: r.length_s(resolution_s)) if over else None
    return QueueFinding(max_v, max_t, above, longest, gap_fraction(pts), len(pts))


def judge_queue(f: QueueFinding, limit_s: float, resolution_s: float, max_gap: float) -> Criterion:
    cid = "limits.queue_age@run"
    details = {"seconds_above_limit": f.seconds_above, "resolution_s": resolution_s,
               "gap_fraction": round(f.gap_fraction, 6), "samples": f.samples}
    if f.max_age_s is None:
        return Criterion(cid, Verdict.INCONCLUSIVE, None, limit_s, "s", "run",
                         "No queue oldest-job age samples.", comparison="<=", details=details)
    if f.max_age_s > limit_s:
        verdict = Verdict.FAIL
        reason = (f"Queue oldest-job age peaked at {f.max_age_s:g} s, over the {limit_s:g} s limit, "
                  f"and stayed above it for {f.seconds_above:g} s in total.")
    elif f.gap_fraction > max_gap:
        verdict = Verdict.INCONCLUSIVE
        reason = (f"Queue age peaked at {f.max_age_s:g} s, but {f.gap_fraction:.1%} of its samples "
                  "are gaps.")
    else:
        verdict = Verdict.PASS
        reason = f"Queue oldest-job age peaked at {f.max_age_s:g} s, within the {limit_s:g} s limit."
    return Criterion(cid, verdict, f.max_age_s, limit_s, "s", "run", reason,
                     window_start=f.max_at, window_end=f.max_at, comparison="<=", details=details)


def active_regions(samples: Sequence[Sample]) -> list[tuple[float, frozenset[str] | None]]:
    """Per sampling instant, the regions whose router_active_region gauge is >= 1 (None: gap)."""
    known: dict[float, bool] = {}
    active: dict[float, set[str]] = {}
    for s in samples:
        if s.metric != ACTIVE_REGION_METRIC:
            continue
        regions = active.setdefault(s.t, set())
        known[s.t] = known.get(s.t, False) or s.value is not None
        if s.value is not None and s.value >= 1.0 and "region" in s.labels:
            regions.add(s.labels["region"])
    return [(t, frozenset(active[t]) if known[t] else None) for t in sorted(active)]


def region_changes(samples: Sequence[Sample], start: float, end: float) -> list[tuple[float, str, str]]:
    """(t, from, to) for each change of the active region with its later sample in [start, end)."""
    changes = []
    prev: frozenset[str] | None = None
    for t, regions in active_regions(samples):
        if not regions:
            continue
        if prev is not None and regions != prev and start <= t < end:
            changes.append((t, ",".join(sorted(prev)), ",".join(sorted(regions))))
        prev = regions
    return changes


def counter_increments(pts: Sequence[Point], start: float, end: float) -> list[tuple[float, float]]:
    """(t, increase) where a counter rose between consecutive known values, the later in [start, end)."""
    out = []
    prev: float | None = None
    for t, v in pts:
        if v is None:
            continue
        if prev is not None and v > prev and start <= t < end:
            out.append((t, v - prev))
        prev = v
    return out


def judge_baseline_failovers(samples: Sequence[Sample], baselines: Sequence[Phase],
                             gate_name: str) -> list[Criterion]:
    out = []
    fo = points(samples, FAILOVERS_METRIC)
    for phase in baselines:
        changes = region_changes(samples, phase.start, phase.end)
        incs = counter_increments(max_per_instant(fo), phase.start, phase.end)
        have_data = any(phase.start <= t < phase.end and v is not None for t, v in fo) or any(
            phase.start <= t < phase.end and r for t, r in active_regions(samples))
        count = len(changes) + len(incs)
        cid = f"gate.{gate_name.lower()}.no_baseline_failover@{phase.name}"
        details = {"region_changes": [list(c) for c in changes],
                   "failovers_total_increments": [list(i) for i in incs]}
        if count:
            first = min([c[0] for c in changes] + [i[0] for i in incs])
            out.append(Criterion(cid, Verdict.FAIL, float(count), 0.0, "count", phase.name,
                                 f"{count} regional failover(s) happened during the baseline, first at "
                                 f"{first:.0f}.", window_start=first, window_end=first,
                                 comparison="<=", details=details))
        elif not have_data:
            out.append(Criterion(cid, Verdict.INCONCLUSIVE, None, 0.0, "count", phase.name,
                                 "No active-region or failover-counter samples during the baseline.",
                                 comparison="<=", details=details))
        else:
            out.append(Criterion(cid, Verdict.PASS, 0.0, 0.0, "count", phase.name,
                                 "No regional failover during the baseline.",
                                 window_start=phase.start, window_end=phase.end, comparison="<=",
                                 details=details))
    return out
