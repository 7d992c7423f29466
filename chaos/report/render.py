"""Writing a bundle's final files: summary.md, report.html (with plotly.min.js beside it),
evidence.json, then the manifest, its check, and junit.xml reporting that check.

Sealing order: the manifest is written over every file but junit.xml and checked against the
disk; junit.xml then carries that check as a test case and is added to the manifest last,
so every file of the bundle, junit.xml included, is covered.
"""

from __future__ import annotations

from pathlib import Path

from chaos.report.bundle import write_json_atomic, write_text_atomic
from chaos.report.evidence import Evidence
from chaos.report.html import PLOTLY_ASSET, write_html
from chaos.report.junit import InconclusiveAs, render_junit
from chaos.report.manifest import (
    ManifestCheck,
    ManifestError,
    add_to_manifest,
    check_manifest,
    write_manifest,
)
from chaos.report.summary import render_summary

JUNIT = "junit.xml"
FINAL_FILES = ("evidence.json", "summary.md", "report.html", PLOTLY_ASSET, JUNIT)


def _write_atomic(path: Path, text: str) -> None:
    write_text_atomic(path, text)  # secrets redacted; no `.tmp` left when it fails


def write_final_files(bundle_dir: Path, evidence: Evidence, *,
                      junit_inconclusive: InconclusiveAs = "failure") -> Path:
    """Render every final file into `bundle_dir` and seal it with the manifest; returns the
    manifest path. evidence.json is written after the views so a crash in between leaves a
    bundle that still reads as unfinished."""
    bundle_dir.mkdir(parents=True, exist_ok=True)
    _write_atomic(bundle_dir / "summary.md", render_summary(evidence))
    write_html(bundle_dir, evidence)
    write_json_atomic(bundle_dir / "evidence.json", evidence.to_json(), indent=1)
    write_manifest(bundle_dir, exclude={JUNIT})
    check = check_manifest(bundle_dir)
    _write_atomic(bundle_dir / JUNIT, render_junit(evidence, inconclusive=junit_inconclusive, manifest=check))
    return add_to_manifest(bundle_dir, [JUNIT])


def rewrite_junit(bundle_dir: Path, evidence: Evidence, *, inconclusive: InconclusiveAs) -> ManifestCheck:
    """Re-render a sealed bundle's junit.xml with another INCONCLUSIVE mapping: every other
    file is checked against the manifest first (ManifestError when one differs), then
    junit.xml is replaced and its manifest line updated."""
    check = check_manifest(bundle_dir, skip={JUNIT})
    if not check.ok:
        raise ManifestError(f"{bundle_dir}: manifest check failed; junit.xml was not rewritten:\n  "
                            + "\n  ".join(check.problems))
    _write_atomic(bundle_dir / JUNIT, render_junit(evidence, inconclusive=inconclusive, manifest=check))
    add_to_manifest(bundle_dir, [JUNIT])
    return check
