"""JUnit, CI lines and summary.md render the one evidence: INCONCLUSIVE is never green by
default, a revert that is not proven fails, totals reconcile, phases read in time order."""

from __future__ import annotations

import dataclasses
import xml.etree.ElementTree as ET

from chaos.recording import FaultAction
from chaos.report import Evidence
from chaos.report.junit import render_junit
from chaos.report.lines import criterion_line
from chaos.report.manifest import ManifestCheck
from chaos.report.summary import render_summary
from chaos.report.totals import run_totals
from chaos.run.judge import judge
from chaos.slo import EvaluationConfig
from chaos.slo.verdict import Criterion, Verdict
from tests.report.synthetic import T0, recording


def _judged(**kwargs: object) -> Evidence:
    config = EvaluationConfig(tier="L")
    inputs = {"evaluation": dataclasses.asdict(config) | {"overrides": {}},
              "drill": {"name": "d", "duration": "5m", "load": {"model": "closed", "streams": 100}}}
    return judge(recording(**kwargs), config, drill="provider-outage", state="complete",  # type: ignore[arg-type]
                 inputs=inputs)[1]


def _inconclusive_only() -> Evidence:
    evidence = _judged()
    kept = tuple(c for c in evidence.criteria if c.verdict is not Verdict.FAIL)
    return dataclasses.replace(evidence, criteria=kept, verdict=Verdict.INCONCLUSIVE)


def _suite(xml: str) -> ET.Element:
    suite = ET.fromstring(xml).find("testsuite")
    assert suite is not None
    return suite


def test_an_inconclusive_run_is_a_junit_failure_by_default() -> None:
    suite = _suite(render_junit(_inconclusive_only()))
    overall = suite.find("testcase[@name='verdict']")
    assert overall is not None
    failure = overall.find("failure")
    assert failure is not None
    assert failure.get("type") == "inconclusive"
    assert suite.get("failures") == "1"  # the verdict
    assert suite.get("skipped") == "2"  # the two rollback triggers the short run cannot show (n/a)


def test_inconclusive_can_be_mapped_to_skipped() -> None:
    suite = _suite(render_junit(_inconclusive_only(), inconclusive="skipped"))
    assert suite.get("failures") == "0"
    assert suite.get("skipped") == "3"
    props = {p.get("name"): p.get("value") for p in suite.iter("property")}
    assert props["inconclusive_as"] == "skipped"


def test_junit_properties_and_times() -> None:
    check = ManifestCheck(files=4, problems=(), seconds=0.012)
    suite = _suite(render_junit(_judged(), manifest=check))
    props = {p.get("name"): p.get("value") for p in suite.iter("property")}
    assert props["run_id"] == "run-1"
    assert props["tier"] == "L"
    assert props["concurrency_driven"] == "100 streams"
    assert props["time_scale"] == "0.1"
    cases = {c.get("name"): c for c in suite.findall("testcase")}
    assert cases["verdict"].get("time") == "30.000"
    assert cases["tier_l.rate_5xx@fault:provider-down"].get("time") == "10.000"
    assert cases["fault provider-down reverted"].get("time") == "9.990"
    assert cases["manifest"].get("time") == "0.012"
    assert int(suite.get("tests", "0")) == len(cases)
    assert int(suite.get("failures", "0")) == len(suite.findall("testcase/failure"))


def test_a_fault_without_revert_or_with_an_action_error_fails_its_testcase() -> None:
    evidence = _judged()
    fault = evidence.recording.faults[0]
    unreverted = dataclasses.replace(fault, id="never-reverted", reverted_at=None)
    broken = dataclasses.replace(fault, id="action-error", actions=(
        FaultAction("toxiproxy.disable", "p", {}, T0, T0 + 1, "targeted", error="enable failed: 500"),))
    rec = dataclasses.replace(evidence.recording, faults=(fault, unreverted, broken))
    suite = _suite(render_junit(dataclasses.replace(evidence, recording=rec)))
    outcome = {c.get("name"): c.find("failure") for c in suite.findall("testcase")}
    assert outcome["fault provider-down reverted"] is None
    failure = outcome["fault never-reverted reverted"]
    assert failure is not None
    assert "no revert recorded" in failure.get("message", "")
    failure = outcome["fault action-error reverted"]
    assert failure is not None
    assert "enable failed: 500" in failure.get("message", "")


def test_a_criterion_line_reads_like_the_issue_example() -> None:
    c = Criterion("tier_g.p95_first_token@fault:provider-outage", Verdict.FAIL, 3310.0, 2500.0, "ms",
                  "fault:provider-outage", "p95 first-token latency was 3,310 ms.", T0 + 12, T0 + 32, "<=",
                  details={"count": 6634})
    line = criterion_line(c, run_start=T0)
    assert line == ("FAIL  tier_g.p95_first_token@fault:provider-outage  3,310 ms > 2,500 ms  "
                    "(n=6,634, windows 12-31)  p95 first-token latency was 3,310 ms.")
    assert "\n" not in criterion_line(c, run_start=T0, columns=30)


def test_totals_reconcile_and_phases_read_in_time_order() -> None:
    evidence = _judged(broken=2)
    totals = run_totals(evidence)
    assert totals.reconciled is True
    judged = [p.requests for p in totals.phases if p.requests is not None]
    assert sum(judged) == totals.judged
    assert totals.judged is not None
    assert totals.outside_judged == totals.ended - totals.judged
    assert [p.start for p in totals.phases] == sorted(p.start for p in totals.phases)
    assert totals.count("broken") == 40
    text = render_summary(evidence)
    assert "booked by the instant of their outcome" in text
    assert "| criterion | limit | baseline | fault:provider-down | recovery | run |" in text
    assert "| outside the judged phases (ramps) |  |  |  |  |  | 400 |  |" in text
    assert "| started - ended - cancelled - in flight | +0 (reconciled) |" in text
    assert "| broken | 40 | 1.33% | server-side failure |" in text


def test_failover_timings_carry_their_definitions() -> None:
    evidence = _judged()
    failover = {"fault_id": "region-down", "region": "us-east", "applied_at": T0 + 10, "reverted_at": T0 + 20,
                "detection_s": 1.5, "detection_resolution_s": 1.0, "failover_s": 2.0,
                "failover_resolution_s": 1.0, "back_within_slo_s": None, "back_within_slo_window_s": 10.0,
                "served_by": "us-west"}
    text = render_summary(dataclasses.replace(evidence, report={**evidence.report, "failovers": [failover]}))
    assert "| detected | 1.50 s (resolution 1 s) |" in text
    assert "| back within SLO | not observed in this run (10 s windows) |" in text
    for term in ("- detected (detection_s): From the fault's effective instant",
                 "- first response from another region (failover_s):",
                 "- back within SLO (back_within_slo_s): From the revert"):
        assert term in text
