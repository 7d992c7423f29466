"""Milestone gate criteria: soak length at full scale, load profile reached, M3's failover drill."""

from __future__ import annotations

import statistics
from collections.abc import Sequence

from chaos.recording import LoadWindow, Recording
from chaos.slo.catalog import Gate, profile
from chaos.slo.scope import Scope, window_instant
from chaos.slo.verdict import Criterion, Verdict


def judge_soak(g: Gate, rec: Recording, judged: Sequence[Scope]) -> Criterion:
    cid = f"gate.{g.name.lower()}.soak"
    soak_s = sum(s.duration_s for s in judged)
    details = {"time_scale": rec.time_scale, "load_scale": rec.load_scale,
               "judged_phases": [s.name for s in judged]}
    if rec.time_scale != 1.0 or rec.load_scale != 1.0:
        return Criterion(cid, Verdict.INCONCLUSIVE, soak_s, g.min_soak_s, "s", "run",
                         f"The run was compressed (time scale {rec.time_scale:g}, load scale "
                         f"{rec.load_scale:g}); a scaled drill is never milestone evidence.",
                         comparison=">=", details=details)
    if soak_s < g.min_soak_s:
        return Criterion(cid, Verdict.INCONCLUSIVE, soak_s, g.min_soak_s, "s", "run",
                         f"The judged soak lasted {soak_s / 60:.1f} min, shorter than the gate's "
                         f"{g.min_soak_s / 60:.0f} min, so it cannot stand for {g.name} however "
                         "good its numbers.", comparison=">=", details=details)
    return Criterion(cid, Verdict.PASS, soak_s, g.min_soak_s, "s", "run",
                     f"The judged soak lasted {soak_s / 60:.1f} min, at least the gate's "
                     f"{g.min_soak_s / 60:.0f} min.", comparison=">=", details=details)


def judge_profile(g: Gate, windows: Sequence[LoadWindow], judged: Sequence[Scope],
                  tolerance: float) -> Criterion:
    """The closed-model concurrency actually held: median over judged seconds of the summed
    in-flight streams of all workers."""
    cid = f"gate.{g.name.lower()}.profile"
    streams = profile(g.profile).streams
    per_second: dict[int, int] = {}
    for w in windows:
        t = window_instant(w.start, w.end)
        if any(s.contains(t) for s in judged):
            per_second[int(t)] = per_second.get(int(t), 0) + w.in_flight
    need = streams * (1.0 - tolerance)
    details = {"profile": g.profile, "streams": streams, "tolerance": tolerance,
               "seconds": len(per_second)}
    if not per_second:
        return Criterion(cid, Verdict.INCONCLUSIVE, None, float(streams), "count", "run",
                         "No load windows in the judged phases.", comparison=">=", details=details)
    median = float(statistics.median(per_second.values()))
    if median < need:
        return Criterion(cid, Verdict.INCONCLUSIVE, median, float(streams), "count", "run",
                         f"The driver held a median of {median:,.0f} concurrent streams, below the "
                         f"{g.profile} profile's {streams:,}, so the run is not evidence for {g.name}.",
                         comparison=">=", details=details)
    return Criterion(cid, Verdict.PASS, median, float(streams), "count", "run",
                     f"The driver held a median of {median:,.0f} concurrent streams for the "
                     f"{g.profile} profile's {streams:,}.", comparison=">=", details=details)


def judge_failover_drill(g: Gate, failover_scopes: Sequence[Scope],
                         scope_verdicts: dict[str, Verdict]) -> Criterion:
    cid = f"gate.{g.name.lower()}.failover_drill"
    if not failover_scopes:
        return Criterion(cid, Verdict.INCONCLUSIVE, None, None, "", "run",
                         f"{g.name} needs a controlled regional failover drill, and this run had none.")
    verdict = Verdict.combine(scope_verdicts.get(s.name, Verdict.INCONCLUSIVE) for s in failover_scopes)
    names = ", ".join(s.name for s in failover_scopes)
    return Criterion(cid, verdict, None, None, "", "run",
                     f"The controlled regional failover window(s) {names} judged at Tier "
                     f"{g.failover_drill_tier}: {verdict.value}.",
                     window_start=min(s.start for s in failover_scopes),
                     window_end=max(s.end for s in failover_scopes),
                     details={"scopes": [s.name for s in failover_scopes]})
