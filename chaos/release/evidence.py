"""The release bundle: evidence.json in the run evidence schema (so `chaos report` reads it),
a reviewer's summary.md with the promotion decision, junit.xml, and the sha256 manifest;
and its re-rendering from the stored evidence (`chaos report` on a release bundle)."""

from __future__ import annotations

import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chaos import __version__
from chaos.errors import EvidenceError
from chaos.recording import Recording
from chaos.release.checklist import ChangeClass, ReleaseResult
from chaos.report.bundle import bundle_dir_name, write_json_atomic, write_text_atomic
from chaos.report.evidence import Evidence, evidence_meta
from chaos.report.junit import render_junit
from chaos.report.manifest import write_manifest
from chaos.report.reader import read_evidence
from chaos.report.redact import redact
from chaos.report.tables import CRITERIA_HEADER, criteria_rows, fmt_time

FILES = ("evidence.json", "summary.md", "junit.xml", "manifest.sha256")
RENDERED = ("summary.md", "junit.xml")  # derived from evidence.json; `chaos report` re-renders them
_DRILL_PREFIX = "release-"  # evidence.drill is "release-<environment name>"


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


def render_release_files(result: ReleaseResult, evidence: Evidence) -> dict[str, str]:
    """The bundle's rendered files (RENDERED), by name."""
    return {"summary.md": render_release_summary(result), "junit.xml": render_junit(evidence)}


def write_release_bundle(evidence_dir: Path, result: ReleaseResult, evidence: Evidence) -> Path:
    """A new bundle directory under `evidence_dir` with every file and its manifest; returns it."""
    evidence_dir.mkdir(parents=True, exist_ok=True)
    base = bundle_dir_name(evidence.drill, result.started_at)
    path, n = evidence_dir / base, 1
    while path.exists():
        n += 1
        path = evidence_dir / f"{base}.{n}"
    path.mkdir()
    for name, text in render_release_files(result, evidence).items():
        write_text_atomic(path / name, text)  # secrets redacted on the way out
    write_json_atomic(path / "evidence.json", evidence.to_json(), indent=1)
    write_manifest(path)
    return path


def is_release_evidence(evidence: Evidence) -> bool:
    return evidence.report.get("kind") == "release"


def release_result_from_evidence(evidence: Evidence, where: Path | str) -> ReleaseResult:
    """The ReleaseResult a release bundle was written from, rebuilt from its evidence;
    EvidenceError naming `where` when the release record is missing or malformed."""
    info = evidence.report.get("release")
    try:
        if not isinstance(info, Mapping):
            raise ValueError("no release record")
        options = dict(evidence.meta.get("options") or {})
        options.pop("change_class", None)  # added by release_evidence; not a checklist option
        return ReleaseResult(
            run_id=evidence.run_id,
            environment=evidence.drill.removeprefix(_DRILL_PREFIX),
            change_class=ChangeClass(info["change_class"]),
            started_at=evidence.recording.started_at,
            ended_at=evidence.recording.ended_at,
            criteria=evidence.criteria,
            canary_sha256=str(info["canary_sha256"]),
            subjects=tuple(str(s) for s in info.get("subjects", ())),
            log_source=info.get("log_source"),
            drills=tuple(str(d) for d in info.get("class_b_drills", ())),
            options=options,
        )
    except (KeyError, TypeError, ValueError) as exc:
        detail = f"missing {exc}" if isinstance(exc, KeyError) else str(exc)
        raise EvidenceError(f"{where}: evidence.json has no usable release record ({detail})") from None


@dataclass(frozen=True, slots=True)
class RerenderedRelease:
    evidence: Evidence
    result: ReleaseResult
    differs: tuple[str, ...]  # rendered files whose stored copy is not what the evidence renders to
    written_to: Path | None


def rerender_release_bundle(path: Path, *, out: Path | None = None) -> RerenderedRelease:
    """Verify a release bundle's manifest and re-render its files from evidence.json.

    The bundle itself is never changed; with `out`, the evidence (byte for byte), the
    re-rendered files and a new manifest are written there."""
    evidence = read_evidence(path)  # verifies the manifest first
    if not is_release_evidence(evidence):
        raise EvidenceError(f"{path}: not a release bundle (evidence.json has no release record)")
    result = release_result_from_evidence(evidence, path)
    files = render_release_files(result, evidence)
    differs = tuple(name for name, text in files.items()
                    if not (path / name).is_file() or (path / name).read_text(encoding="utf-8") != text)
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        if out.resolve() != path.resolve():
            shutil.copyfile(path / "evidence.json", out / "evidence.json")
        for name, text in files.items():
            write_text_atomic(out / name, text)
        write_manifest(out)
    return RerenderedRelease(evidence, result, differs, out)
