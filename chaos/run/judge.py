"""From a recording to a sealed bundle: evaluate (pure), add the steady-state criteria,
never claim PASS for an unfinished run, write the final files."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from chaos import __version__
from chaos.recording import Recording
from chaos.report.evidence import Evidence, evidence_meta, safe_verdict
from chaos.report.reader import read_raw
from chaos.report.render import write_final_files
from chaos.run.steady import SteadyResult
from chaos.slo import EvaluationConfig, Report, evaluate
from chaos.slo.verdict import Criterion, Verdict


def steady_criteria(when: str, results: Sequence[SteadyResult], at: float) -> list[Criterion]:
    return [
        Criterion(
            id=f"steady_state.{r.name}@{when}",
            verdict=Verdict.PASS if r.ok else Verdict.FAIL,
            measured=r.measured,
            threshold=None,
            unit="",
            scope=when,
            reason=r.detail,
            window_start=at,
            window_end=at,
        )
        for r in results
    ]


def failover_map(report: Report) -> dict[str, Any]:
    return {
        f.fault_id: {
            "region": f.region,
            "detection_s": f.detection_s,
            "failover_s": f.failover_s,
            "back_within_slo_s": f.back_within_slo_s,
            "served_by": f.served_by,
        }
        for f in report.failovers
    }


def judge(
    recording: Recording,
    evaluation: EvaluationConfig,
    *,
    drill: str,
    state: str,
    extra_criteria: Sequence[Criterion] = (),
    inputs: Mapping[str, Any] | None = None,
    meta: Mapping[str, Any] | None = None,
    events: Sequence[Mapping[str, Any]] = (),
) -> tuple[Report, Evidence]:
    report = evaluate(evaluation, recording)
    criteria = (*report.criteria, *extra_criteria)
    verdict = safe_verdict(Verdict.combine(c.verdict for c in criteria), complete=recording.complete)
    evidence = Evidence(
        run_id=recording.run_id, drill=drill, state=state, recording=recording, verdict=verdict,
        criteria=criteria, failover=failover_map(report), report=report.to_json(),
        inputs=inputs or {}, meta=meta or {}, events=tuple(events),
    )
    return report, evidence


def judge_and_write(
    bundle_dir: Path,
    recording: Recording,
    evaluation: EvaluationConfig,
    *,
    drill: str,
    state: str,
    before: Sequence[SteadyResult],
    after: Sequence[SteadyResult],
    drill_paths: Sequence[Path],
    options: Mapping[str, Any],
) -> tuple[Report, Evidence]:
    """Evaluate the run and seal its bundle (inputs and events come from the bundle itself)."""
    raw = read_raw(bundle_dir)
    extra = steady_criteria("before", before, recording.started_at)
    if after:
        extra += steady_criteria("after", after, recording.ended_at)
    meta = evidence_meta(options=options, drill_paths=drill_paths, version=__version__)
    report, evidence = judge(recording, evaluation, drill=drill, state=state, extra_criteria=extra,
                             inputs=raw.inputs, meta=meta, events=raw.events)
    write_final_files(bundle_dir, evidence)
    return report, evidence
