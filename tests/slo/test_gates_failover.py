"""Gate M2's baseline-failover rule and M3's failover window judged at Tier G, with timings."""

from __future__ import annotations

from chaos.slo import EvaluationConfig, Verdict, evaluate
from tests.slo.builders import RecordingBuilder


def _region_run(failover_in_baseline: bool = False) -> RecordingBuilder:
    b = RecordingBuilder(workers=("w0", "w1"))
    b.phase("baseline", "baseline", 120, "X").phase("fault:east-down", "fault", 60, "X", "east-down")
    b.phase("recovery", "recovery", 120, "X")
    b.traffic(0, 120, {"2xx": 1000}, regions={"us-east": 1000}, in_flight=20_000)
    # Failover window: 0.4% 5xx (within Tier G's 0.5%, over Tier X's 0.3%), served by us-west
    b.traffic(120, 123, {"2xx": 900, "5xx": 100}, regions={"us-east": 1000}, in_flight=20_000)
    b.traffic(123, 180, {"2xx": 1000}, regions={"us-west": 1000}, in_flight=20_000)
    b.traffic(180, 185, {"2xx": 995, "5xx": 5}, regions={"us-west": 1000}, in_flight=20_000)
    b.traffic(185, 300, {"2xx": 1000}, regions={"us-east": 1000}, in_flight=20_000)
    b.probe(0, 300)
    b.series("circuit_state", {"route": "primary"}, 0, 300, 0.0)
    b.series("queue_oldest_age_s", {}, 0, 300, 2.0)
    b.series("active_region", {"region": "us-east"}, 0, 122, 1.0)
    b.series("active_region", {"region": "us-west"}, 0, 122, 0.0)
    b.series("active_region", {"region": "us-east"}, 122, 300, 0.0)
    b.series("active_region", {"region": "us-west"}, 122, 300, 1.0)
    b.series("failovers_total", {}, 0, 122, 0.0).series("failovers_total", {}, 122, 300, 1.0)
    if failover_in_baseline:
        b.series("failovers_total", {}, 60, 61, 1.0)
    b.fault("east-down", "region_failover", "us-east", 120, 180)
    return b


def test_m3_judges_the_failover_window_at_tier_g_and_the_rest_at_tier_x() -> None:
    report = evaluate(EvaluationConfig(tier="X", gate="M3"), _region_run().build())
    window = report.criterion("tier_g.rate_5xx@fault:east-down")
    assert window.verdict is Verdict.PASS  # 600 of 120,000 = 0.5%, exactly Tier G's limit
    assert report.criterion("tier_x.rate_5xx@baseline").verdict is Verdict.PASS
    assert report.criterion("gate.m3.failover_drill").verdict is Verdict.PASS
    assert "tier_x.rate_5xx@fault:east-down" not in {c.id for c in report.criteria}
    run = report.criterion("tier_x.rate_5xx@run")
    assert run.details["denominator"] == 240 * 1000  # only the 240 s outside the failover window


def test_failover_timings_detection_first_other_region_and_back_within_slo() -> None:
    report = evaluate(EvaluationConfig(tier="X"), _region_run().build())
    (t,) = report.failovers
    assert (t.fault_id, t.region, t.served_by) == ("east-down", "us-east", "us-west")
    assert t.detection_s == 2.0  # active region changed at the 122 s sample
    assert t.failover_s == 4.0  # the window [123, 124) is the first served by us-west; its end bounds it
    # 5 s of 0.5% 5xx after the revert; the rolling 10 s rate is 25/8000 = 0.31% at 7 s and
    # 25/9000 = 0.28% (within Tier X's 0.3%) from 8 s on.
    assert t.back_within_slo_s == 8.0
    assert t.detection_resolution_s == 1.0


def test_a_region_cut_after_it_stopped_serving_has_no_failover_timings() -> None:
    """A maintenance cut of us-east 30 s after traffic moved to us-west (a controlled failover
    drains first): there was nothing to fail over, so no detection or failover time for it."""
    b = _region_run()
    b.fault("east-maintenance", "region_failover", "us-east", 150, 170)
    report = evaluate(EvaluationConfig(tier="X"), b.build())
    assert [t.fault_id for t in report.failovers] == ["east-down"]


def test_m2_forbids_regional_failover_during_baseline() -> None:
    clean = evaluate(EvaluationConfig(tier="G", gate="M2"), _region_run().build())
    assert clean.criterion("gate.m2.no_baseline_failover@baseline").verdict is Verdict.PASS
    dirty = evaluate(EvaluationConfig(tier="G", gate="M2"), _region_run(failover_in_baseline=True).build())
    c = dirty.criterion("gate.m2.no_baseline_failover@baseline")
    assert c.verdict is Verdict.FAIL
    assert dirty.gate_verdict is Verdict.FAIL
