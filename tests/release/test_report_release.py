"""`chaos report` on a bundle `chaos release` wrote: detected, verified, re-rendered from its evidence."""

from __future__ import annotations

import json
import time
from pathlib import Path

from typer.testing import CliRunner

from chaos.cli import app
from chaos.release.checklist import ChangeClass, ReleaseResult
from chaos.release.evidence import release_evidence, write_release_bundle
from chaos.report.manifest import verify_manifest
from chaos.slo.verdict import Criterion, Verdict
from tests.release.conftest import BURST
from tests.testbed_fixture import RunningTestbed

REPO = Path(__file__).resolve().parents[2]


def _files(bundle: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(bundle.iterdir())}


def _single_line(text: str) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    assert len(lines) == 1, text
    return lines[0]


def test_a_real_release_bundle_re_renders_to_the_same_files(testbed: RunningTestbed, tmp_path: Path) -> None:
    """`chaos release` against the testbed, then `chaos report` on its bundle: same verdicts and exit
    code, the bundle untouched, and --out holds byte-identical summary, JUnit and evidence."""
    runner = CliRunner()
    ran = runner.invoke(app, ["release", "--env", str(testbed.env_path), "--change-class", "A",
                              "--checklist", str(REPO / "experiments" / "release.yaml"),
                              "--burst", str(BURST), "--evidence-dir", str(tmp_path / "runs")])
    assert ran.exit_code in (0, 1, 3), ran.output
    (bundle,) = (tmp_path / "runs").iterdir()
    before = _files(bundle)

    shown = runner.invoke(app, ["report", str(bundle)])
    assert shown.exit_code == ran.exit_code, shown.output
    assert "re-rendered files match the bundle" in shown.output
    assert "release.chat_burst.no_5xx" in shown.output
    decision = next(line for line in ran.output.splitlines() if line.startswith("verdict "))
    assert decision in shown.output.splitlines()
    assert _files(bundle) == before  # a sealed bundle is never rewritten in place

    out = tmp_path / "rerendered"
    written = runner.invoke(app, ["report", str(bundle), "--out", str(out)])
    assert written.exit_code == ran.exit_code, written.output
    assert f"written: {out}" in written.output
    verify_manifest(out)
    assert _files(out) == before


def test_a_tampered_release_bundle_is_refused(testbed: RunningTestbed, tmp_path: Path) -> None:
    """The manifest is checked before anything is re-rendered."""
    ran = CliRunner().invoke(app, ["release", "--env", str(testbed.env_path), "--burst", str(BURST),
                                   "--evidence-dir", str(tmp_path / "runs")])
    assert ran.exit_code in (0, 1, 3), ran.output
    (bundle,) = (tmp_path / "runs").iterdir()
    summary = bundle / "summary.md"
    summary.write_text(summary.read_text() + "Promotion MAY PROCEED after all.\n")
    out = CliRunner().invoke(app, ["report", str(bundle)])
    assert out.exit_code == 4, out.output  # a manifest mismatch: the evidence cannot be trusted
    assert "summary.md: sha256 differs" in out.output


def _failed_release_bundle(tmp_path: Path) -> Path:
    now = time.time()
    criteria = (
        Criterion("release.health", Verdict.PASS, 200.0, 200.0, "status", "release", "GET /health: 200."),
        Criterion("release.chat_burst.rate_limited", Verdict.FAIL, 0.0, 1.0, "count", "release",
                  "No burst request was answered 429.", comparison=">="),
    )
    result = ReleaseResult(run_id="abc123", environment="staging", change_class=ChangeClass.B,
                           started_at=now - 5, ended_at=now, criteria=criteria, canary_sha256="0" * 64,
                           subjects=("release-abc123",), log_source="file /var/log/gw.log",
                           drills=("experiments/smoke.yaml",),
                           options={"burst_requests": 30, "payload": "hi", "checklist": "release"})
    evidence = release_evidence(result, inputs={}, input_paths=[])
    return write_release_bundle(tmp_path, result, evidence)


def test_a_blocked_release_bundle_reports_blocked_and_exit_1(tmp_path: Path) -> None:
    bundle = _failed_release_bundle(tmp_path / "runs")
    out = CliRunner().invoke(app, ["report", str(bundle), "--out", str(tmp_path / "again")])
    assert out.exit_code == 1, out.output
    assert "release bundle: staging, class B, run abc123" in out.output
    assert "promotion BLOCKED" in out.output
    assert (tmp_path / "again" / "summary.md").read_bytes() == (bundle / "summary.md").read_bytes()
    assert (tmp_path / "again" / "junit.xml").read_bytes() == (bundle / "junit.xml").read_bytes()


def test_tier_does_not_apply_to_a_release_bundle(tmp_path: Path) -> None:
    bundle = _failed_release_bundle(tmp_path / "runs")
    out = CliRunner().invoke(app, ["report", str(bundle), "--tier", "G"])
    assert out.exit_code == 2, out.output
    assert "is a release bundle" in _single_line(out.output)


def test_a_directory_of_neither_kind_is_a_one_line_error_naming_it(tmp_path: Path) -> None:
    """An empty directory, foreign JSON and a chaos document with neither evaluation settings
    nor a release record: one line each, naming the path, exit 2."""
    empty = tmp_path / "empty"
    empty.mkdir()
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "evidence.json").write_text(json.dumps({"schema": "something.else"}))
    orphan = tmp_path / "orphan"
    orphan.mkdir()
    (orphan / "evidence.json").write_text(json.dumps({"schema": "chaos.evidence", "inputs": {}}))
    for path in (empty, foreign, orphan, tmp_path / "missing"):
        out = CliRunner().invoke(app, ["report", str(path)])
        assert out.exit_code == 2, out.output
        line = _single_line(out.output)
        assert str(path) in line
        assert "bundle" in line
