"""Table-driven boundary tests of the evaluator on synthetic recordings."""

from __future__ import annotations

import json

import pytest

from chaos.slo import EvaluationConfig, Report, Verdict, evaluate
from tests.slo.builders import RecordingBuilder, healthy

X = EvaluationConfig(tier="X")


def _run(seconds: int, bad: dict[str, int], bad_from_s: int, bad_for_s: int) -> RecordingBuilder:
    b = RecordingBuilder().phase("baseline", "baseline", seconds, "X")
    b.traffic(0, bad_from_s, {"2xx": 1000})
    b.traffic(bad_from_s, bad_from_s + bad_for_s, bad)
    b.traffic(bad_from_s + bad_for_s, seconds, {"2xx": 1000})
    b.probe(0, seconds)
    b.series("circuit_state", {"route": "primary"}, 0, seconds, 0.0)
    return b


@pytest.mark.parametrize(("minutes", "verdict"), [(4, Verdict.PASS), (5, Verdict.FAIL)])
def test_5xx_rollback_fires_at_five_consecutive_minutes(minutes: int, verdict: Verdict) -> None:
    rec = _run(20 * 60, {"2xx": 990, "5xx": 10}, 120, minutes * 60).build()
    c = evaluate(X, rec).criterion("rollback.rate_5xx_5min@run")
    assert (c.verdict, c.measured) == (verdict, float(minutes))


@pytest.mark.parametrize(("minutes", "verdict"), [(9, Verdict.PASS), (10, Verdict.FAIL)])
def test_2xx_rollback_fires_at_ten_consecutive_minutes(minutes: int, verdict: Verdict) -> None:
    rec = _run(20 * 60, {"2xx": 900, "4xx": 100}, 60, minutes * 60).build()
    c = evaluate(X, rec).criterion("rollback.rate_2xx_10min@run")
    assert (c.verdict, c.measured) == (verdict, float(minutes))


def _circuit(open_s: int, seconds: int = 400) -> RecordingBuilder:
    b = healthy(seconds)
    b.samples.clear()
    b.series("circuit_state", {"route": "primary"}, 0, 100, 0.0)
    b.series("circuit_state", {"route": "primary"}, 100, 100 + open_s, 1.0)
    b.series("circuit_state", {"route": "primary"}, 100 + open_s, seconds, 0.0)
    b.series("queue_oldest_age_s", {}, 0, seconds, 1.0)
    return b


@pytest.mark.parametrize(("open_s", "verdict"),
                         [(119, Verdict.PASS), (120, Verdict.PASS), (121, Verdict.FAIL)])
def test_circuit_open_limit_is_two_minutes_inclusive(open_s: int, verdict: Verdict) -> None:
    report = evaluate(X, _circuit(open_s).build())
    c = report.criterion("limits.circuit_open@run[route=primary]")
    assert (c.verdict, c.measured, c.threshold) == (verdict, float(open_s), 120.0)
    assert c.details["resolution_s"] == 1.0
    assert report.criterion("rollback.circuit_open_2min@run[route=primary]").verdict is verdict


def test_gap_inside_open_interval_counts_as_open() -> None:
    """60 s open, 30 s of failed scrapes, 40 s open: one 130 s interval, not two short ones."""
    b = healthy(400)
    b.samples.clear()
    route = {"route": "primary"}
    b.series("circuit_state", route, 0, 100, 0.0).series("circuit_state", route, 100, 160, 1.0)
    b.series("circuit_state", route, 160, 190, None).series("circuit_state", route, 190, 230, 1.0)
    b.series("circuit_state", route, 230, 400, 0.0)
    c = evaluate(X, b.build()).criterion("limits.circuit_open@run[route=primary]")
    assert c.verdict is Verdict.FAIL
    assert c.measured == 130.0
    assert c.details["bridged_gap_samples"] == 30
    assert "counted as open" in c.reason


def test_gap_after_open_interval_that_could_exceed_the_limit_is_inconclusive() -> None:
    b = healthy(400)
    b.samples.clear()
    route = {"route": "primary"}
    b.series("circuit_state", route, 0, 100, 0.0).series("circuit_state", route, 100, 200, 1.0)
    b.series("circuit_state", route, 200, 230, None).series("circuit_state", route, 230, 400, 0.0)
    c = evaluate(X, b.build()).criterion("limits.circuit_open@run[route=primary]")
    assert (c.verdict, c.measured, c.details["upper_bound_s"]) == (Verdict.INCONCLUSIVE, 100.0, 130.0)


def test_half_open_does_not_end_an_open_interval() -> None:
    """Open 100 s, half-open (0.5) 30 s, open 30 s: one 160 s interval, over the 120 s limit."""
    b = healthy(400)
    b.samples.clear()
    route = {"route": "primary"}
    b.series("circuit_state", route, 0, 100, 0.0).series("circuit_state", route, 100, 200, 1.0)
    b.series("circuit_state", route, 200, 230, 0.5).series("circuit_state", route, 230, 260, 1.0)
    b.series("circuit_state", route, 260, 400, 0.0)
    c = evaluate(X, b.build()).criterion("limits.circuit_open@run[route=primary]")
    assert (c.verdict, c.measured) == (Verdict.FAIL, 160.0)


def test_closed_ends_an_open_interval() -> None:
    """Open 100 s, closed 30 s, open 30 s: two intervals, the longest 100 s, within the limit."""
    b = healthy(400)
    b.samples.clear()
    route = {"route": "primary"}
    b.series("circuit_state", route, 0, 100, 0.0).series("circuit_state", route, 100, 200, 1.0)
    b.series("circuit_state", route, 200, 230, 0.0).series("circuit_state", route, 230, 260, 0.5)
    b.series("circuit_state", route, 260, 400, 0.0)
    c = evaluate(X, b.build()).criterion("limits.circuit_open@run[route=primary]")
    assert (c.verdict, c.measured) == (Verdict.PASS, 100.0)


def test_an_idle_half_open_breaker_after_an_open_one_is_reported_not_judged_open() -> None:
    """Open 100 s, then half-open to the end (no traffic to close it): open is 100 s (PASS);
    the 300 s half-open is in the details, not a FAIL of the open limit."""
    b = healthy(500)
    b.samples.clear()
    route = {"route": "primary"}
    b.series("circuit_state", route, 0, 100, 0.0).series("circuit_state", route, 100, 200, 1.0)
    b.series("circuit_state", route, 200, 500, 0.5)
    report = evaluate(X, b.build())
    c = report.criterion("limits.circuit_open@run[route=primary]")
    assert (c.verdict, c.measured) == (Verdict.PASS, 100.0)
    assert (c.details["half_open_longest_s"], c.details["half_open_total_s"]) == (300.0, 300.0)
    assert report.criterion("rollback.circuit_open_2min@run[route=primary]").verdict is Verdict.PASS


def test_a_fallback_circuit_half_open_from_the_first_second_never_fails_the_run() -> None:
    """A circuit left half-open by an earlier drill, never open during this one."""
    b = healthy(300)
    b.series("circuit_state", {"route": "fallback"}, 0, 300, 0.5)
    c = evaluate(X, b.build()).criterion("limits.circuit_open@run[route=fallback]")
    assert (c.verdict, c.measured, c.details["half_open_total_s"]) == (Verdict.PASS, 0.0, 300.0)


@pytest.mark.parametrize(("age_s", "verdict"),
                         [(29.9, Verdict.PASS), (30.0, Verdict.PASS), (30.5, Verdict.FAIL)])
def test_queue_age_exactly_at_the_gate_limit_passes(age_s: float, verdict: Verdict) -> None:
    b = healthy(300)
    b.series("queue_oldest_age_s", {}, 150, 151, age_s)
    config = EvaluationConfig(tier="X", queue_age_max_s=30.0)
    c = evaluate(config, b.build()).criterion("limits.queue_age@run")
    assert (c.verdict, c.measured, c.threshold) == (verdict, age_s, 30.0)


def test_queue_rollback_needs_more_than_ten_minutes_over_the_limit() -> None:
    b = healthy(15 * 60)
    b.samples[:] = [s for s in b.samples if s.metric != "queue_oldest_age_s"]
    b.series("queue_oldest_age_s", {}, 0, 60, 1.0).series("queue_oldest_age_s", {}, 60, 661, 50.0)
    b.series("queue_oldest_age_s", {}, 661, 900, 1.0)
    report = evaluate(EvaluationConfig(tier="X", queue_age_max_s=30.0), b.build())
    c = report.criterion("rollback.queue_age_10min@run")
    assert (c.verdict, c.measured) == (Verdict.FAIL, 601.0)


def test_429_storm_with_zero_5xx_fails_the_2xx_minimum() -> None:
    rec = healthy(300, rps=0).traffic(0, 300, {"2xx": 900, "429": 100}).build()
    report = evaluate(X, rec)
    assert report.criterion("tier_x.rate_5xx@baseline").verdict is Verdict.PASS
    assert report.criterion("tier_x.rate_2xx@baseline").verdict is Verdict.FAIL
    assert report.criterion("tier_x.rate_429@baseline").verdict is Verdict.FAIL
    assert report.verdict is Verdict.FAIL


@pytest.mark.parametrize(("failures", "verdict"), [(3, Verdict.PASS), (4, Verdict.FAIL)])
def test_5xx_rate_exactly_at_threshold_passes(failures: int, verdict: Verdict) -> None:
    """Transport failures count with 5xx: 2 + 1 of 1000 is exactly Tier X's 0.3%."""
    rec = healthy(200, rps=0).traffic(
        0, 200, {"2xx": 1000 - failures, "5xx": failures - 1, "transport": 1}).build()
    assert evaluate(X, rec).criterion("tier_x.rate_5xx@baseline").verdict is verdict


@pytest.mark.parametrize(("seconds", "time_scale", "reason"), [
    (600, 1.0, "shorter than the gate's 120 min"),
    (7200, 0.05, "compressed"),
])
def test_short_or_scaled_gate_run_is_inconclusive(seconds: int, time_scale: float, reason: str) -> None:
    rec = healthy(seconds, rps=100, in_flight=20_000).build(time_scale=time_scale)
    report = evaluate(EvaluationConfig(tier="X", gate="M3"), rec)
    soak = report.criterion("gate.m3.soak")
    assert soak.verdict is Verdict.INCONCLUSIVE
    assert reason in soak.reason
    assert report.verdict is Verdict.INCONCLUSIVE
    assert report.gate_verdict is Verdict.INCONCLUSIVE


def test_gate_run_below_profile_concurrency_is_inconclusive() -> None:
    rec = healthy(60, rps=100, in_flight=1_000).build()
    c = evaluate(EvaluationConfig(tier="X", gate="M3"), rec).criterion("gate.m3.profile")
    assert (c.verdict, c.measured) == (Verdict.INCONCLUSIVE, 1000.0)


@pytest.mark.parametrize(("requests", "verdict"), [(99, Verdict.INCONCLUSIVE), (100, Verdict.PASS)])
def test_too_few_requests_for_p95_is_inconclusive(requests: int, verdict: Verdict) -> None:
    rec = healthy(1, rps=requests).build()
    assert evaluate(X, rec).criterion("tier_x.p95_first_token@baseline").verdict is verdict


def _with_slow_windows(slow: int, *, saturated: bool, rest_ms: float = 500.0) -> RecordingBuilder:
    """100 s at `rest_ms` first token, then `slow` seconds at 9 s, flagged saturated or not."""
    b = healthy(100, first_token_ms=rest_ms)
    b.traffic(100, 100 + slow, {"2xx": 1000}, saturated=saturated, first_token_ms=9000)
    b.phases[0] = type(b.phases[0])("baseline", "baseline", b.start, b.start + 100 + slow, "X")
    b._cursor = 100 + slow
    return b


def test_a_pass_with_saturated_windows_stands_and_rates_are_still_judged() -> None:
    """1 saturated second of 101: a saturated driver can only inflate latencies, and the p95
    is within the limit even with them, so the PASS stands."""
    report = evaluate(X, _with_slow_windows(1, saturated=True).build())
    c = report.criterion("tier_x.p95_first_token@baseline")
    assert c.verdict is Verdict.PASS
    assert "saturated in 1 of 101" in c.reason
    assert "the PASS stands" in c.reason
    assert report.criterion("tier_x.rate_2xx@baseline").verdict is Verdict.PASS


def test_saturated_windows_that_decide_a_fail_make_latency_inconclusive() -> None:
    """20 slow seconds of 120 (17% of requests at 9 s): over Tier X's 2 s p95 with them, 500 ms
    without them. Flagged saturated, they decide the criterion: INCONCLUSIVE, not FAIL."""
    c = evaluate(X, _with_slow_windows(20, saturated=True).build()).criterion(
        "tier_x.p95_first_token@baseline")
    assert c.verdict is Verdict.INCONCLUSIVE
    assert "saturated in 20 of 120" in c.reason
    assert c.details["unsaturated_count"] == 100_000
    assert c.details["unsaturated_p95_ms"] == pytest.approx(500, rel=0.01)
    # the same slow seconds without the flag are the system's: FAIL
    plain = evaluate(X, _with_slow_windows(20, saturated=False).build())
    assert plain.criterion("tier_x.p95_first_token@baseline").verdict is Verdict.FAIL


def test_a_fail_stands_when_the_unsaturated_windows_fail_on_their_own() -> None:
    c = evaluate(X, _with_slow_windows(20, saturated=True, rest_ms=2500).build()).criterion(
        "tier_x.p95_first_token@baseline")
    assert c.verdict is Verdict.FAIL
    assert "so the FAIL stands" in c.reason
    assert c.details["unsaturated_p95_ms"] == pytest.approx(2500, rel=0.01)


@pytest.mark.parametrize(("probe_s", "verdict"), [(270, Verdict.PASS), (269, Verdict.INCONCLUSIVE)])
def test_probe_gaps_over_the_allowed_share_are_inconclusive(probe_s: int, verdict: Verdict) -> None:
    b = healthy(300)
    b.probes[:] = b.probes[:probe_s]
    assert evaluate(X, b.build()).criterion("tier_x.availability@baseline").verdict is verdict


def test_failed_probe_seconds_are_gaps_not_failures() -> None:
    b = healthy(300)
    b.probes[:] = b.probes[:290]
    b.probe(290, 300, available=None)
    c = evaluate(X, b.build()).criterion("tier_x.availability@baseline")
    assert (c.verdict, c.details["probe_seconds_with_data"]) == (Verdict.PASS, 290)


def test_availability_fails_below_tier_minimum() -> None:
    b = healthy(2000)
    b.probes[5] = type(b.probes[5])(b.probes[5].t, True, False, error="chat 503")
    b.probes[6] = type(b.probes[6])(b.probes[6].t, False, False, error="health 503")
    c = evaluate(X, b.build()).criterion("tier_x.availability@baseline")
    assert c.verdict is Verdict.FAIL
    assert c.measured == pytest.approx(99.9)


def test_missing_windows_are_gaps_and_too_many_make_rates_inconclusive() -> None:
    b = RecordingBuilder(workers=("w0", "w1")).phase("baseline", "baseline", 100, "X")
    b.traffic(0, 79, {"2xx": 1000}).traffic(79, 100, {"2xx": 1000}, missing_workers=("w1",))
    b.probe(0, 100)
    report = evaluate(X, b.build())
    c = report.criterion("tier_x.rate_2xx@baseline")
    assert c.verdict is Verdict.INCONCLUSIVE
    assert "Missing load windows" in c.reason
    assert report.load.missing_windows == 21


def test_incomplete_recording_never_passes() -> None:
    report = evaluate(X, healthy(60).build(complete=False))
    assert report.verdict is Verdict.INCONCLUSIVE
    assert report.criterion("run.complete@run").verdict is Verdict.INCONCLUSIVE


def test_aborted_run_fails() -> None:
    report = evaluate(X, healthy(60).build(aborted="5xx-storm"))
    assert report.verdict is Verdict.FAIL
    assert "5xx-storm" in report.criterion("run.aborted@run").reason


def test_override_replaces_threshold_and_is_shown() -> None:
    rec = healthy(100, rps=0).traffic(0, 100, {"2xx": 990, "5xx": 10}).build()
    config = EvaluationConfig(tier="X", overrides={"rate_5xx": 0.01})
    c = evaluate(config, rec).criterion("tier_x.rate_5xx@baseline")
    assert (c.verdict, c.threshold, c.override) == (Verdict.PASS, 1.0, True)
    assert evaluate(X, rec).criterion("tier_x.rate_5xx@baseline").override is False


@pytest.mark.parametrize(("last_seen_s", "verdict"), [(200, Verdict.PASS), (250, Verdict.FAIL)])
def test_hard_failure_unresolved_at_run_end_fails(last_seen_s: int, verdict: Verdict) -> None:
    b = healthy(300)
    b.traffic(100, last_seen_s, {"2xx": 0, "5xx": 1}, error_codes={"redis_unavailable": 1})
    report = evaluate(X, b.build())
    c = report.criterion("hard_failures.redis_unavailable@run")
    assert c.verdict is verdict
    assert report.criterion("rollback.hard_failures@run").verdict is verdict
    (interval,) = report.hard_failures
    assert (interval.code, interval.first_seen, interval.last_seen) == (
        "redis_unavailable", b.start + 101, b.start + last_seen_s)


def test_unhealthy_gateway_probe_is_a_hard_failure() -> None:
    b = healthy(300)
    b.probes[-1] = type(b.probes[-1])(b.probes[-1].t, False, True, error="health 503")
    c = evaluate(X, b.build()).criterion("hard_failures.gateway_unhealthy@run")
    assert c.verdict is Verdict.FAIL


def test_report_json_round_trips_exactly() -> None:
    b = healthy(300)
    b.traffic(100, 150, {"2xx": 0, "5xx": 1}, error_codes={"redis_unavailable": 1})
    report = evaluate(EvaluationConfig(tier="X", gate="M3"), b.build())
    data = json.loads(json.dumps(report.to_json()))
    assert Report.from_json(data) == report
    assert data["load"]["reconciled"] is True


def test_load_totals_reconcile_with_cancelled_and_in_flight() -> None:
    b = healthy(10, rps=0)
    b.traffic(0, 9, {"2xx": 100, "5xx": 2, "429": 3}, started=105)
    b.traffic(9, 10, {"2xx": 10}, started=10 + 7 + 5, cancelled=7, in_flight=5)
    load = evaluate(X, b.build()).load
    assert load.started == 9 * 105 + 22
    assert load.ended + load.cancelled + load.in_flight_at_end == load.started
    assert load.reconciled
    assert dict(load.counts)["429"] == 27


def test_overlapping_fault_windows_count_once_in_the_run_scope_duration() -> None:
    """A drain (45-75 s) overlapped by a cut (50-70 s): the run scope lasts 120 s, not 140 s,
    so 120 probe seconds leave no gap (they were judged 15% missing before)."""
    from chaos.recording import ProbeSecond
    from chaos.slo.scope import Scope
    from chaos.slo.tier_rules import probe_availability

    run = Scope("run", "G", ((0.0, 45.0), (45.0, 75.0), (50.0, 70.0), (75.0, 120.0)))
    assert run.duration_s == 120.0
    assert Scope("x", "G", ((10.0, 20.0), (0.0, 5.0), (4.0, 6.0))).duration_s == 16.0
    probes = [ProbeSecond(float(t), True, True) for t in range(120)]
    a = probe_availability(run, probes)
    assert (a.expected, a.with_data, a.gap_fraction) == (120, 120, 0.0)


def test_a_healthy_45_s_run_passes_with_the_rollback_streaks_not_applicable() -> None:
    """Too short for a 5- or 10-minute streak: those triggers are n/a, not INCONCLUSIVE, and
    do not hold the verdict back."""
    report = evaluate(X, healthy(45).build())
    for cid in ("rollback.rate_5xx_5min@run", "rollback.rate_2xx_10min@run"):
        c = report.criterion(cid)
        assert c.verdict is Verdict.NOT_APPLICABLE, c
        assert c.reason.startswith("n/a")
    assert report.verdict is Verdict.PASS, [(c.id, c.verdict) for c in report.criteria
                                            if c.verdict is not Verdict.PASS]


def test_a_fault_phase_ends_where_its_revert_was_verified_on_the_window_grid() -> None:
    """Scheduled end 20.0 s, revert verified at 20.12 s: windows were cut every 50 ms after
    20.0, so the fault phase ends at 20.15 and recovery starts there; a failure at 20.1 s (the
    fault still applied) is the fault's."""
    import dataclasses

    from chaos.recording import FaultRecord, Phase
    from chaos.slo.scope import booked_phases

    b = healthy(40)
    rec = b.build()
    t0 = rec.started_at
    phases = (Phase("baseline", "baseline", t0, t0 + 10, "X"),
              Phase("fault:f", "fault", t0 + 10, t0 + 20, "X", fault_id="f"),
              Phase("recovery", "recovery", t0 + 20, t0 + 40, "X"))
    template = rec.windows[0]
    cut = [dataclasses.replace(template, seq=1000 + i, start=t0 + 20 + 0.05 * i,
                               end=t0 + 20 + 0.05 * (i + 1)) for i in range(10)]
    fault = FaultRecord("f", "provider_outage", "down", "primary", t0 + 10, t0 + 20,
                        applied_at=t0 + 10.02, reverted_at=t0 + 20.12)
    rec = dataclasses.replace(rec, phases=phases, faults=(fault,), windows=rec.windows + tuple(cut))
    booked = {p.name: (round(p.start - t0, 3), round(p.end - t0, 3)) for p in booked_phases(rec)}
    assert booked == {"baseline": (0.0, 10.0), "fault:f": (10.0, 20.15), "recovery": (20.15, 40.0)}
    on_time = dataclasses.replace(fault, reverted_at=t0 + 19.99)
    assert booked_phases(dataclasses.replace(rec, faults=(on_time,))) == phases
