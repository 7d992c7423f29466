"""The release bundle: evidence.json in the run evidence schema (so `chaos report` reads it),
a reviewer's summary.md with the promotion decision, junit.xml, and the sha256 manifest."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from chaos import __version__
from chaos.recording import Recording
from chaos.release.checklist import ReleaseResult
from chaos.report.bundle import bundle_dir_name
from chaos.report.evidence import Evidence, evidence_meta
from chaos.report.junit import render_junit
from chaos.report.manifest import write_manifest
from chaos.report.redact import redact
from chaos.report.tables import CRITERIA_HEADER, criteria_rows, fmt_time

FILES = ("evidence.json", "summary.md", "junit.xml", "manifest.sha256")


def release_evidence(
    result: ReleaseResult, *, inputs: Mapping[str, Any], input_paths: Sequence[Path],
    secrets: Sequence[str] = (),
) -> Evidence:
    """The evidence document of one release run; `inputs` are redacted of `secrets`."""
    recording = Recording(run_id=result.run_id, started_at=result.started_at,
                          ended_at=result.ended_at, phases=(), windows=())
    release = {
        "change_class": result.change_class.value,
        "environment": result.environment,
        "promotion": {"allowed": result.promotion_allowed, "reason": result.promotion_reason},
        "canary_sha256": result.canary_sha256,
        "subjects": list(result.subjects),
        "log_source": result.log_source,
        "class_b_drills": list(result.drills),
    }
    return Evidence(
        run_id=result.run_id, drill=f"release-{result.environment}", state="complete",
        recording=recording, verdict=result.verdict, criteria=result.criteria,
        report={"kind": "release", "release": release},
        inputs=redact(dict(inputs), secrets=secrets),
        meta=evidence_meta(options={**result.options, "change_class": result.change_class.value},
                           drill_paths=list(input_paths), version=__version__),
    )


def render_release_summary(result: ReleaseResult) -> str:
    verdict = result.verdict.value
    decision = "MAY PROCEED" if result.promotion_allowed else "BLOCKED"
    rows = criteria_rows(result.criteria)
    table = ["| " + " | ".join(CRITERIA_HEADER) + " |", "|" + "---|" * len(CRITERIA_HEADER)]
    table += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows]
    lines = [
        f"# Release gate `{result.environment}`, class {result.change_class.value}: **{verdict}**",
        "",
        f"**Promotion {decision}**: {result.promotion_reason}.",
        "",
        f"- run id: `{result.run_id}`",
        f"- window: {fmt_time(result.started_at)} - {fmt_time(result.ended_at)} UTC "
        f"({result.ended_at - result.started_at:.1f} s)",
        f"- burst: {result.options.get('burst_requests')} concurrent requests from one subject",
        f"- logs read from: {result.log_source or 'none declared'}",
        f"- privacy canary (sha256 only, the text is never stored): `{result.canary_sha256}`",
    ]
    if result.drills:
        lines.append(f"- class B drills: {', '.join(result.drills)}")
    lines += ["", "## Criteria", "", *table, "",
              "Integrity: `manifest.sha256` (sha256sum -c).", ""]
    return "\n".join(lines)


def write_release_bundle(evidence_dir: Path, result: ReleaseResult, evidence: Evidence) -> Path:
    """A new bundle directory under `evidence_dir` with every file and its manifest; returns it."""
    evidence_dir.mkdir(parents=True, exist_ok=True)
    base = bundle_dir_name(evidence.drill, result.started_at)
    path, n = evidence_dir / base, 1
    while path.exists():
        n += 1
        path = evidence_dir / f"{base}.{n}"
    path.mkdir()
    (path / "summary.md").write_text(render_release_summary(result), encoding="utf-8")
    (path / "junit.xml").write_text(render_junit(evidence), encoding="utf-8")
    (path / "evidence.json").write_text(json.dumps(evidence.to_json(), indent=1) + "\n", encoding="utf-8")
    write_manifest(path)
    return path
