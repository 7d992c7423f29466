"""Re-judging a bundle (`chaos report`): the same pure evaluation over the recorded data,
optionally against another tier; a killed run's bundle is sealed as incomplete."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from chaos import __version__
from chaos.errors import EvidenceError
from chaos.report.evidence import Evidence, evidence_meta
from chaos.report.reader import is_finalised, read_evidence, read_raw
from chaos.report.render import write_final_files
from chaos.run.judge import judge
from chaos.slo import EvaluationConfig, Report
from chaos.slo.catalog import CatalogError

_TUPLES = ("hard_failure_codes", "region_failover_fault_ids")


def evaluation_from_json(data: Mapping[str, Any], *, tier: str | None = None) -> EvaluationConfig:
    known = {f.name for f in fields(EvaluationConfig)}
    values = {k: v for k, v in data.items() if k in known}
    for name in _TUPLES:
        if values.get(name) is not None:
            values[name] = tuple(values[name])
    if tier is not None and tier.upper() != str(values.get("tier", "")).upper():
        values.update(tier=tier.upper(), gate=None, overrides={})
    try:
        return EvaluationConfig(**values)
    except (TypeError, CatalogError) as exc:
        raise EvidenceError(f"the bundle's evaluation settings are unusable: {exc}") from None


@dataclass(frozen=True, slots=True)
class Rejudged:
    original: Evidence | None  # None: the bundle was never finalised (a killed run)
    evidence: Evidence
    report: Report
    written_to: Path | None

    def differences(self) -> list[str]:
        """Criteria whose verdict differs from the run's own (empty: same verdicts)."""
        if self.original is None:
            return []
        before = {c.id: c.verdict.value for c in self.original.criteria}
        after = {c.id: c.verdict.value for c in self.evidence.criteria}
        out = [f"{i}: {before.get(i, '-')} -> {after.get(i, '-')}" for i in sorted(set(before) | set(after))
               if before.get(i) != after.get(i)]
        if self.original.verdict != self.evidence.verdict:
            out.insert(0, f"overall: {self.original.verdict.value} -> {self.evidence.verdict.value}")
        return out


def rejudge_bundle(path: Path, *, tier: str | None = None, out: Path | None = None) -> Rejudged:
    """Verify and re-evaluate a bundle. A finalised bundle is only written to `out`; a
    killed run's bundle is sealed in place (marked incomplete) unless `out` is given."""
    if is_finalised(path):
        original = read_evidence(path)  # verifies the manifest first
        settings = original.inputs.get("evaluation")
        if not isinstance(settings, Mapping):
            raise EvidenceError(f"{path}: evidence.json has no evaluation settings to re-judge with")
        kept = [c for c in original.criteria if c.id.startswith("steady_state.")]
        report, evidence = judge(
            original.recording, evaluation_from_json(settings, tier=tier), drill=original.drill,
            state=original.state, extra_criteria=kept, inputs=original.inputs, meta=original.meta,
            events=original.events,
        )
        if out is not None:
            write_final_files(out, evidence)
        return Rejudged(original, evidence, report, out)
    raw = read_raw(path)
    settings = raw.inputs.get("evaluation")
    if not isinstance(settings, Mapping):
        raise EvidenceError(f"{path}: inputs.json has no evaluation settings to judge with")
    state = raw.state if raw.state != "running" else "killed"
    report, evidence = judge(
        raw.recording, evaluation_from_json(settings, tier=tier), drill=str(raw.run.get("drill", path.name)),
        state=state, inputs=raw.inputs,
        meta=evidence_meta(options={"rejudged": True}, drill_paths=[], version=__version__), events=raw.events,
    )
    target = out or path
    write_final_files(target, evidence)
    return Rejudged(None, evidence, report, target)
