"""A phase whose driven load fell more than 5 % short of plan (a lost worker's share) cannot
PASS: its criteria are INCONCLUSIVE, naming the lost worker; within 5 % they stand; a
recording that names no workers (older bundles) is judged as before."""

from __future__ import annotations

import pytest

from chaos.recording import Recording, WorkerRecord
from chaos.slo import EvaluationConfig, evaluate
from chaos.slo.scope import Scope
from chaos.slo.shortfall import load_shortfall
from chaos.slo.verdict import Verdict
from tests.slo.builders import T0, RecordingBuilder


def recording(workers: int, *, lost: bool, marked_missing: bool = True, named: bool = True) -> Recording:
    """`workers` workers, 100 req/s each: baseline 0-60 s, recovery 60-120 s; the last worker
    stops at 60 s when `lost` (its windows reported missing, or simply absent)."""
    names = tuple(f"w{i}" for i in range(workers))
    b = RecordingBuilder(workers=names).phase("baseline", "baseline", 60).phase("recovery", "recovery", 60)
    b.traffic(0, 60, {"2xx": 100 * workers})
    b.traffic(60, 120, {"2xx": 100 * workers}, missing_workers=(names[-1],) if lost else ())
    b.probe(0, 120)
    b.series("circuit_state", {"route": "primary"}, 0, 120, 0.0)
    b.series("queue_oldest_age_s", {}, 0, 120, 1.0)
    rec = b.build()
    if lost and not marked_missing:
        rec = Recording(**{**{f: getattr(rec, f) for f in rec.__dataclass_fields__}, "missing_windows": ()})
    if not named:
        return rec
    records = tuple(WorkerRecord(worker_id=n, backend="ray", node=f"node-{n}", streams=10) for n in names)
    if lost:
        records = (*records[:-1], WorkerRecord(
            worker_id=names[-1], backend="ray", node="node-b", streams=10, lost_at=T0 + 60.5,
            lost_reason="the actor died", last_seq=59))
    return Recording(**{**{f: getattr(rec, f) for f in rec.__dataclass_fields__}, "workers": records})


def verdicts(rec: Recording, scope: str) -> set[Verdict]:
    report = evaluate(EvaluationConfig(tier="X"), rec)
    return {c.verdict for c in report.criteria if c.id.startswith("tier_x.") and c.id.endswith(f"@{scope}")}


@pytest.mark.parametrize("marked_missing", [True, False])
def test_a_lost_worker_over_5_percent_of_the_load_makes_its_phases_inconclusive(marked_missing: bool) -> None:
    rec = recording(16, lost=True, marked_missing=marked_missing)  # 1 of 16: 6.25 % short
    assert verdicts(rec, "baseline") == {Verdict.PASS}
    assert verdicts(rec, "recovery") == {Verdict.INCONCLUSIVE}
    report = evaluate(EvaluationConfig(tier="X"), rec)
    rate = next(c for c in report.criteria if c.id == "tier_x.rate_2xx@recovery")
    assert "6.2% short of plan" in rate.reason
    assert "worker w15 on node-b was lost (the actor died) after window 59" in rate.reason
    assert rate.details["load_shortfall"] == pytest.approx(0.0625)
    assert report.verdict is not Verdict.PASS
    summary = next(p for p in report.phases if p.scope == "recovery")
    assert summary.verdict is Verdict.INCONCLUSIVE


def test_a_shortfall_within_5_percent_leaves_the_verdicts_alone() -> None:
    rec = recording(25, lost=True)  # 1 of 25: 4 % short
    assert verdicts(rec, "recovery") == {Verdict.PASS}


def test_a_recording_that_names_no_workers_is_judged_as_before() -> None:
    rec = recording(16, lost=True, marked_missing=False, named=False)
    assert verdicts(rec, "recovery") == {Verdict.PASS}


def test_shortfall_weights_each_worker_by_its_share() -> None:
    rec = recording(2, lost=True)
    heavy = tuple(WorkerRecord(worker_id=w.worker_id, streams=30 if w.worker_id == "w0" else 10)
                  for w in rec.workers)
    scope = Scope("recovery", "X", ((T0 + 60, T0 + 120),))
    found = load_shortfall(scope, heavy, rec.windows)
    assert found is not None
    assert found.fraction == pytest.approx(0.25)  # w1 carried a quarter of the streams
