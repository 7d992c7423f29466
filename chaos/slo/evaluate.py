"""`evaluate(config, recording) -> Report`: the pure judgement of a recorded run (no I/O, no clock)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace

from chaos.recording import LoadWindow, Recording
from chaos.slo.catalog import CATALOG_VERSION, Gate
from chaos.slo.confidence import latency_shifts
from chaos.slo.config import EvaluationConfig, Thresholds
from chaos.slo.failover import failover_timings
from chaos.slo.gates import judge_failover_drill, judge_profile, judge_soak
from chaos.slo.hard_failures import hard_failure_intervals, judge_hard_failures
from chaos.slo.ledger import failed_ledger
from chaos.slo.limits import (
    circuit_finding,
    circuit_routes,
    judge_baseline_failovers,
    judge_circuit,
    judge_queue,
    queue_finding,
)
from chaos.slo.report import DriverFigures, LoadTotals, Report
from chaos.slo.rollback import Minute, as_rollback, judge_rate_triggers, minutes
from chaos.slo.scope import (
    LoadAggregate,
    Scope,
    aggregate_scopes,
    booked_phases,
    unique_windows,
)
from chaos.slo.shortfall import apply_shortfall, load_shortfall
from chaos.slo.streams import stream_figures
from chaos.slo.tier_rules import PhaseSummary, judge_scope, probe_availability
from chaos.slo.verdict import Criterion, Verdict


def failover_fault_ids(config: EvaluationConfig, rec: Recording) -> set[str]:
    if config.region_failover_fault_ids is not None:
        return set(config.region_failover_fault_ids)
    return {f.id for f in rec.faults if f.scenario == "region_failover"}


def build_scopes(config: EvaluationConfig, rec: Recording, failover_ids: set[str]
                 ) -> tuple[list[Scope], list[Scope]]:
    """(phase scopes + the whole-run scope, the failover-window scopes among them).

    Phases with `tier=None` (ramps) are not judged."""
    g = config.gate_entry
    phase_scopes: list[Scope] = []
    failover_scopes: list[Scope] = []
    for p in rec.phases:
        if p.tier is None or p.kind == "whole" or p.end <= p.start:
            continue
        in_failover = p.fault_id is not None and p.fault_id in failover_ids
        # The config's tier is authoritative (a bundle can be re-judged at another tier);
        # Phase.tier only says whether the phase is judged. M3 judges failover windows at G.
        tier = config.tier.upper()
        if g is not None and in_failover and g.failover_drill_tier:
            tier = g.failover_drill_tier
        scope = Scope(p.name, tier, ((p.start, p.end),))
        phase_scopes.append(scope)
        if in_failover:
            failover_scopes.append(scope)
    scopes = list(phase_scopes)
    if config.judge_whole_run:
        if not rec.phases:
            scopes.append(Scope("run", config.tier.upper(), ((rec.started_at, rec.ended_at),)))
        else:
            exclude = {s.name for s in failover_scopes} if g and g.failover_drill_tier else set()
            parts = tuple(s.intervals[0] for s in phase_scopes if s.name not in exclude)
            if parts:
                scopes.append(Scope("run", config.tier.upper(), parts))
    return scopes, failover_scopes


def _load_totals(windows: Sequence[LoadWindow], agg: LoadAggregate, missing: int) -> LoadTotals:
    last: dict[str, LoadWindow] = {}
    for w in windows:
        prev = last.get(w.worker_id)
        if prev is None or (w.incarnation, w.seq) > (prev.incarnation, prev.seq):
            last[w.worker_id] = w
    return LoadTotals(
        started=agg.started, ended=agg.ended, counts=dict(agg.counts),
        error_codes=dict(sorted(agg.error_codes.items())), transport=dict(sorted(agg.transport.items())),
        cancelled=agg.cancelled, late=agg.late, dropped=agg.dropped,
        in_flight_at_end=sum(w.in_flight for w in last.values()),
        windows=agg.windows, missing_windows=missing,
        class_codes=dict(sorted(_sum_counts(w.class_codes for w in windows).items())),
    )


BOOKING_RULE = (
    "outcome instant: a request is booked in the window holding the instant it completed or "
    "failed; windows end at every second and at every phase boundary below (each fault's "
    "scheduled apply instant, and its verified revert instant, within the 50 ms window grid "
    "cut after each scheduled end), so a window lies in one phase; probe seconds are booked "
    "when their result was known"
)


def scaled_durations(config: EvaluationConfig) -> dict[str, dict[str, float]]:
    """Every duration the evaluator judges with, nominal (the seed's, or the drill's) and as
    applied (multiplied by the run's --time-scale): one time-scaling rule."""
    scale = config.time_scale or 1.0
    applied = {
        "circuit_open_limit": config.circuit_limit_s,
        "rollback_minute": config.rollback_minute_s,
        "rollback_circuit_open": config.rollback_circuit_s,
        "rollback_queue_age": config.rollback_queue_s,
        "hard_failure_quiet": config.hard_failure_quiet_s,
        "back_within_slo_window": config.back_within_slo_window_s,
    }
    return {name: {"nominal_s": round(value / scale, 6), "scaled_s": round(value, 6)}
            for name, value in applied.items()}


def _booking(rec: Recording) -> dict[str, object]:
    """The rule and the phases as judged (`rec` already has booked phases): the timeline
    holds the scheduled instants, these the ones each request was booked against."""
    boundaries = sorted({t for p in rec.phases if p.kind != "whole" for t in (p.start, p.end)})
    phases = [{"name": p.name, "kind": p.kind, "start": p.start, "end": p.end, "tier": p.tier}
              for p in rec.phases]
    return {"rule": BOOKING_RULE, "boundaries": boundaries, "phases": phases}


def _sum_counts(parts: Iterable[Mapping[str, int]]) -> dict[str, int]:
    out: dict[str, int] = {}
    for part in parts:
        for key, n in part.items():
            out[key] = out.get(key, 0) + n
    return out


def _totals_aggregate(windows: Sequence[LoadWindow]) -> LoadAggregate:
    """Counts of every window (no histograms: the totals need none)."""
    agg = LoadAggregate()
    for w in windows:
        agg.windows += 1
        agg.saturated += int(w.saturated)
        agg.started += w.started
        agg.cancelled += w.cancelled
        agg.late += w.late
        agg.dropped += w.dropped
        for d, src in ((agg.counts, w.counts), (agg.error_codes, w.error_codes),
                       (agg.transport, w.transport)):
            for k, n in src.items():
                d[k] = d.get(k, 0) + n
        agg.max_loop_lag_p99_ms = max(agg.max_loop_lag_p99_ms, w.loop_lag_p99_ms)
        agg.max_cpu_percent = max(agg.max_cpu_percent, w.cpu_percent)
    return agg


def _limits(config: EvaluationConfig, rec: Recording, resolution_s: float) -> list[Criterion]:
    out = []
    samples = rec.samples
    for route in circuit_routes(samples, config.primary_route):
        f = circuit_finding(samples, route, resolution_s)
        out.append(judge_circuit(f, config.circuit_limit_s, resolution_s,
                                 config.max_probe_gap_fraction,
                                 f"limits.circuit_open@run[route={route}]"))
    limit = config.queue_limit_s
    if limit is not None:
        out.append(judge_queue(queue_finding(samples, limit, resolution_s), limit, resolution_s,
                               config.max_probe_gap_fraction))
    return out


def _rollback(config: EvaluationConfig, rec: Recording, windows: Sequence[LoadWindow],
              phase_scopes: Sequence[Scope], resolution_s: float, hard: Sequence[Criterion]
              ) -> list[Criterion]:
    def thresholds_for(m: Minute) -> Thresholds:
        mid = m.start + config.rollback_minute_s / 2
        for s in phase_scopes:
            if s.name != "run" and s.contains(mid):
                return config.thresholds(s.tier)
        return config.thresholds()

    minute_s = config.rollback_minute_s
    out = judge_rate_triggers(minutes(windows, rec.started_at, rec.ended_at, minute_s), thresholds_for,
                              minute_s)
    f = circuit_finding(rec.samples, config.primary_route, resolution_s)
    c = judge_circuit(f, config.rollback_circuit_s, resolution_s, config.max_probe_gap_fraction,
                      f"rollback.circuit_open_2min@run[route={config.primary_route}]")
    out.append(as_rollback(c, c.id, "Primary provider circuit open > 2 min"))
    limit = config.queue_limit_s
    if limit is not None:
        q = queue_finding(rec.samples, limit, resolution_s)
        longest = q.longest_above.length_s(resolution_s) if q.longest_above else 0.0
        cid = "rollback.queue_age_10min@run"
        if q.max_age_s is None:
            out.append(Criterion(cid, Verdict.INCONCLUSIVE, None, config.rollback_queue_s, "s", "run",
                                 "No queue oldest-job age samples.", comparison="<="))
        else:
            fired = longest > config.rollback_queue_s
            out.append(Criterion(
                cid, Verdict.FAIL if fired else Verdict.PASS, longest, config.rollback_queue_s, "s", "run",
                f"Queue oldest-job age stayed over the {limit:g} s limit for at most {longest:g} s "
                f"continuously; the trigger fires beyond {config.rollback_queue_s:g} s.",
                window_start=q.longest_above.first_t if q.longest_above else None,
                window_end=(q.longest_above.last_t + resolution_s) if q.longest_above else None,
                comparison="<=", details={"resolution_s": resolution_s}))
    unresolved = [c for c in hard if c.verdict is Verdict.FAIL]
    out.append(Criterion(
        "rollback.hard_failures@run", Verdict.FAIL if unresolved else Verdict.PASS,
        float(len(unresolved)), 0.0, "count", "run",
        ("Unresolved hard failures: " + ", ".join(c.id.split(".")[1].split("@")[0] for c in unresolved)
         + ".") if unresolved else "No unresolved hard failure at the end of the run.",
        comparison="<="))
    return out


def _gate(g: Gate, config: EvaluationConfig, rec: Recording, windows: Sequence[LoadWindow],
          scopes: Sequence[Scope], failover_scopes: Sequence[Scope],
          summaries: Sequence[PhaseSummary]) -> list[Criterion]:
    judged = [s for s in scopes if s.name != "run"] or list(scopes)
    out = [judge_soak(g, rec, judged), judge_profile(g, windows, judged, config.profile_tolerance)]
    if g.forbid_baseline_failover:
        baselines = [p for p in rec.phases if p.kind == "baseline"]
        found = judge_baseline_failovers(rec.samples, baselines, g.name)
        out += found or [Criterion(f"gate.{g.name.lower()}.no_baseline_failover@baseline",
                                   Verdict.INCONCLUSIVE, None, 0.0, "count", "baseline",
                                   "The run had no baseline phase.")]
    if g.failover_drill_tier:
        verdicts = {s.scope: s.verdict for s in summaries}
        out.append(judge_failover_drill(g, failover_scopes, verdicts))
    return out


def _run_state(rec: Recording) -> list[Criterion]:
    out = []
    if rec.aborted is not None:
        out.append(Criterion("run.aborted@run", Verdict.FAIL, None, None, "", "run",
                             f"The run was aborted: {rec.aborted}.", details={"aborted": rec.aborted}))
    if not rec.complete:
        out.append(Criterion("run.complete@run", Verdict.INCONCLUSIVE, None, None, "", "run",
                             "The recording is incomplete, so it cannot support a PASS."))
    return out


def evaluate(config: EvaluationConfig, recording: Recording) -> Report:
    """Judge `recording` against `config`: pure, deterministic, same input -> same Report."""
    # Phases as judged: each fault phase ends where its revert was verified (scope.booked_phases).
    rec = replace(recording, phases=booked_phases(recording))
    resolution_s = config.sample_interval_s or rec.sample_interval_s
    windows = unique_windows(rec.windows)
    failover_ids = failover_fault_ids(config, rec)
    scopes, failover_scopes = build_scopes(config, rec, failover_ids)
    aggregates = aggregate_scopes(scopes, windows, rec.missing_windows)

    criteria: list[Criterion] = []
    summaries: list[PhaseSummary] = []
    for scope, agg in zip(scopes, aggregates, strict=True):
        found, summary = judge_scope(scope, agg, probe_availability(scope, rec.probes),
                                     config.thresholds(scope.tier), config)
        found, summary = apply_shortfall(found, summary, load_shortfall(scope, rec.workers, windows))
        criteria += found
        summaries.append(summary)
    criteria += _limits(config, rec, resolution_s)

    intervals = hard_failure_intervals(config.hard_failure_codes, windows, rec.samples, rec.probes,
                                       rec.ended_at, config.hard_failure_quiet_s)
    hard = judge_hard_failures(config.hard_failure_codes, intervals, config.hard_failure_quiet_s)
    criteria += hard
    criteria += _rollback(config, rec, windows, scopes, resolution_s, hard)

    g = config.gate_entry
    gate_verdict = None
    if g is not None:
        gate_criteria = _gate(g, config, rec, windows, scopes, failover_scopes, summaries)
        criteria += gate_criteria
        relevant = [c for c in criteria if c.id.startswith(("tier_", "limits.", "gate."))]
        gate_verdict = Verdict.combine(c.verdict for c in relevant)
    criteria += _run_state(rec)

    totals_agg = _totals_aggregate(windows)
    driver = DriverFigures(
        windows=len(windows), saturated_windows=totals_agg.saturated,
        missing_windows=len(rec.missing_windows),
        max_loop_lag_p99_ms=totals_agg.max_loop_lag_p99_ms,
        max_cpu_percent=totals_agg.max_cpu_percent,
    )
    timings = failover_timings(rec.faults, failover_ids, windows, rec.samples, rec.probes,
                               rec.ended_at, config.thresholds(), resolution_s,
                               config.back_within_slo_window_s)
    verdict = Verdict.combine(c.verdict for c in criteria)
    if not rec.complete and verdict is Verdict.PASS:  # belt and braces: never PASS incomplete
        verdict = Verdict.INCONCLUSIVE
    if gate_verdict is Verdict.PASS and not rec.complete:
        gate_verdict = Verdict.INCONCLUSIVE
    return Report(
        verdict=verdict, criteria=tuple(criteria), tier=config.tier.upper(), gate=config.gate,
        gate_verdict=gate_verdict, catalog_version=CATALOG_VERSION,
        load=_load_totals(windows, totals_agg, len(rec.missing_windows)),
        phases=tuple(summaries), driver=driver, failovers=tuple(timings),
        hard_failures=tuple(intervals), streams=stream_figures(windows),
        failed_requests=failed_ledger(windows, rec.phases),
        booking=_booking(rec), durations=scaled_durations(config),
        latency_shift=latency_shifts(scopes, aggregates, {p.name: p.kind for p in rec.phases}),
        complete=rec.complete, aborted=rec.aborted,
    )
