"""Writing a bundle's final files: summary.md, evidence.json, the manifest, its check and
junit.xml reporting that check, then report.html with plotly.min.js beside it.

Sealing order: small files first, so a nearly full disk still yields a verdict; the manifest
is written over every file but junit.xml and the large views and checked against the disk;
junit.xml then carries that check as a test case and is added to the manifest; report.html
and plotly.min.js (4.8 MB) come last and are added to the manifest when they fit. A write
that fails leaves no `.tmp` file and raises EvidenceWriteError naming the file.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

from chaos.errors import EvidenceWriteError
from chaos.report.bundle import write_json_atomic, write_text_atomic
from chaos.report.evidence import Evidence
from chaos.report.html import PLOTLY_ASSET, write_html
from chaos.report.junit import InconclusiveAs, render_junit
from chaos.report.manifest import (
    MANIFEST_NAME,
    ManifestCheck,
    ManifestError,
    add_to_manifest,
    check_manifest,
    read_manifest,
    write_manifest,
)
from chaos.report.summary import render_summary

JUNIT = "junit.xml"
REPORT_HTML = "report.html"
FINAL_FILES = ("evidence.json", "summary.md", REPORT_HTML, PLOTLY_ASSET, JUNIT)
LARGE_FILES = (REPORT_HTML, PLOTLY_ASSET)  # written last: a full disk still gets a verdict
# A file a run keeps in its bundle so the disk has room for sealing; removed when sealing.
SEAL_RESERVE = ".seal-reserve"


def _write_atomic(path: Path, text: str) -> None:
    write_text_atomic(path, text)  # secrets redacted; no `.tmp` left when it fails


def remove_partial_files(bundle_dir: Path) -> None:
    """Remove the `.tmp` files a failed write left in the bundle (best effort)."""
    with contextlib.suppress(OSError):
        for tmp in bundle_dir.glob("*.tmp"):
            with contextlib.suppress(OSError):
                tmp.unlink()


def write_final_files(bundle_dir: Path, evidence: Evidence, *,
                      junit_inconclusive: InconclusiveAs = "failure") -> Path:
    """Render every final file into `bundle_dir` and seal it with the manifest; returns the
    manifest path. EvidenceWriteError (with `sealed` True when only the large views failed)
    names the file a write failed on; no `.tmp` file is left behind either way."""
    step = "create the bundle directory"
    try:
        bundle_dir.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileNotFoundError):
            (bundle_dir / SEAL_RESERVE).unlink()
        step = "write summary.md"
        _write_atomic(bundle_dir / "summary.md", render_summary(evidence))
        step = "write evidence.json"
        write_json_atomic(bundle_dir / "evidence.json", evidence.to_json(), indent=1)
        step = f"write {MANIFEST_NAME}"
        write_manifest(bundle_dir, exclude={JUNIT, *LARGE_FILES})
        check = check_manifest(bundle_dir)
        step = f"write {JUNIT}"
        _write_atomic(bundle_dir / JUNIT, render_junit(evidence, inconclusive=junit_inconclusive, manifest=check))
        step = f"add {JUNIT} to {MANIFEST_NAME}"
        manifest = add_to_manifest(bundle_dir, [JUNIT])
    except OSError as exc:
        remove_partial_files(bundle_dir)
        raise EvidenceWriteError(
            str(bundle_dir), step, exc,
            hint=f"the recording is kept; free space, then `chaos report {bundle_dir}` seals it",
        ) from exc
    try:
        step = f"write {REPORT_HTML} and {PLOTLY_ASSET}"
        write_html(bundle_dir, evidence)
        step = f"add {REPORT_HTML} to {MANIFEST_NAME}"
        manifest = add_to_manifest(bundle_dir, LARGE_FILES)
    except OSError as exc:
        remove_partial_files(bundle_dir)
        _drop_unsealed(bundle_dir)
        raise EvidenceWriteError(
            str(bundle_dir), step, exc, sealed=True,
            hint=(f"the verdict files and the manifest are written without it; "
                  f"`chaos report {bundle_dir} --out DIR` renders it where there is room"),
        ) from exc
    return manifest


def _drop_unsealed(bundle_dir: Path) -> None:
    """Remove large views the manifest does not cover (a stale or half-sealed copy)."""
    with contextlib.suppress(OSError):
        sealed = set(read_manifest(bundle_dir))
        for name in LARGE_FILES:
            if name not in sealed:
                with contextlib.suppress(OSError):
                    (bundle_dir / name).unlink(missing_ok=True)


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
