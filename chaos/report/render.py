"""Writing a bundle's final files from its evidence: evidence.json, summary.md, report.html,
junit.xml, then the manifest over everything."""

from __future__ import annotations

import json
from pathlib import Path

from chaos.report.evidence import Evidence
from chaos.report.html import render_html
from chaos.report.junit import render_junit
from chaos.report.manifest import write_manifest
from chaos.report.summary import render_summary

FINAL_FILES = ("evidence.json", "summary.md", "report.html", "junit.xml")


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


def write_final_files(bundle_dir: Path, evidence: Evidence) -> Path:
    """Render every final file into `bundle_dir` and seal it with the manifest; returns the
    manifest path. evidence.json is written last of the four so a crash in between leaves
    a bundle that still reads as unfinished."""
    bundle_dir.mkdir(parents=True, exist_ok=True)
    _write_atomic(bundle_dir / "summary.md", render_summary(evidence))
    _write_atomic(bundle_dir / "junit.xml", render_junit(evidence))
    _write_atomic(bundle_dir / "report.html", render_html(evidence))
    _write_atomic(bundle_dir / "evidence.json", json.dumps(evidence.to_json(), indent=1) + "\n")
    return write_manifest(bundle_dir)
