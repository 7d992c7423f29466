"""What `chaos report` prints: one unwrapped line per criterion in a CI log, the manifest
check, the totals and the exit code's meaning; JSON for machines; exit 4 for a bundle that
fails its manifest."""

from __future__ import annotations

import dataclasses
import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from typer.testing import CliRunner

from chaos.cli import app
from chaos.errors import ExitCode
from chaos.report import verify_manifest, write_final_files
from chaos.run.judge import judge
from chaos.slo import EvaluationConfig
from tests.report.synthetic import recording


def _bundle(path: Path) -> Path:
    config = EvaluationConfig(tier="L")
    inputs = {"evaluation": dataclasses.asdict(config) | {"overrides": {}},
              "drill": {"name": "provider-outage", "duration": "5m", "load": {"model": "closed", "streams": 100}}}
    _, evidence = judge(recording(), config, drill="provider-outage", state="complete", inputs=inputs)
    write_final_files(path, evidence)
    return path


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _bundle(tmp_path_factory.mktemp("bundle") / "drill")


def _evidence_criteria(bundle: Path) -> list[dict[str, object]]:
    criteria: list[dict[str, object]] = json.loads((bundle / "evidence.json").read_text())["criteria"]
    return criteria


def test_a_ci_log_gets_one_line_per_criterion_never_wrapped(bundle: Path) -> None:
    out = CliRunner().invoke(app, ["report", str(bundle)], env={"COLUMNS": ""})
    assert out.exit_code == ExitCode.FAIL, out.output
    lines = out.output.splitlines()
    ids = [c["id"] for c in _evidence_criteria(bundle)]
    criterion_lines = [line for line in lines
                       if line.split() and line.split()[0] in ("PASS", "FAIL", "INCONCLUSIVE", "n/a")]
    assert [line.split()[1] for line in criterion_lines] == ids
    assert any(len(line) > 80 for line in criterion_lines)  # a long line stays one line
    assert ("FAIL  tier_l.rate_5xx@fault:provider-down  10.00% > 1.00%  "
            "(n=1,000, windows 10-19)  100 of 1000 ended requests") in out.output
    assert "manifest OK (5 files)" in lines
    assert lines[-1] == "FAIL: exit 1 (a criterion failed, or the run was aborted)"
    assert "same verdicts as the run" in lines
    assert any(line.startswith("scope: Tier L (1,000 streams), driven at 100 streams (scaled drill") for line in lines)
    assert any(line.startswith("requests: 3,040 started, 3,000 ended") for line in lines)


def test_columns_shortens_only_the_reason(bundle: Path) -> None:
    """A head wider than COLUMNS is kept whole (without its reason); a reason is cut to fit."""
    out = CliRunner().invoke(app, ["report", str(bundle)], env={"COLUMNS": "120"})
    failing = [line for line in out.output.splitlines() if line.startswith("FAIL ")]
    head = "FAIL  tier_l.rate_5xx@fault:provider-down  10.00% > 1.00%  (n=1,000, windows 10-19)"
    assert any(line.startswith(head) and line.endswith("...") and len(line) <= 120 for line in failing), failing
    narrow = CliRunner().invoke(app, ["report", str(bundle)], env={"COLUMNS": "40"})
    assert head in narrow.output.splitlines()


def test_format_json_prints_the_criteria_of_evidence_json(bundle: Path) -> None:
    out = CliRunner().invoke(app, ["report", str(bundle), "--format", "json"])
    doc = json.loads(out.stdout)
    assert doc["criteria"] == _evidence_criteria(bundle)
    assert doc["verdict"] == "FAIL"
    assert doc["exit_code"] == 1
    assert doc["manifest"] == {"ok": True, "files": 5, "problems": []}
    assert doc["scope"]["tier_streams"] == 1000


def test_a_changed_file_exits_4_and_is_named(tmp_path: Path) -> None:
    bundle = _bundle(tmp_path / "drill")
    summary = bundle / "summary.md"
    summary.write_text(summary.read_text() + "PASS after all.\n")
    out = CliRunner().invoke(app, ["report", str(bundle)])
    assert out.exit_code == ExitCode.INFRASTRUCTURE, out.output
    assert "summary.md: sha256 differs" in out.output


def test_help_says_a_manifest_mismatch_exits_4() -> None:
    out = CliRunner().invoke(app, ["report", "--help"], env={"COLUMNS": "200"})
    assert "exits 4" in " ".join(out.output.split())


def test_junit_inconclusive_can_be_mapped_to_skipped(bundle: Path, tmp_path: Path) -> None:
    out = CliRunner().invoke(app, ["report", str(bundle), "--out", str(tmp_path / "again"),
                                   "--junit-inconclusive", "skipped"])
    assert out.exit_code == ExitCode.FAIL, out.output
    suite = ET.parse(tmp_path / "again" / "junit.xml").getroot().find("testsuite")
    assert suite is not None
    skipped = [c.get("name") for c in suite.findall("testcase") if c.find("skipped") is not None]
    assert skipped == ["rollback.rate_5xx_5min@run", "rollback.rate_2xx_10min@run"]
    assert "junit.xml" in verify_manifest(tmp_path / "again")
    default = ET.parse(bundle / "junit.xml").getroot().find("testsuite")
    assert default is not None
    # The short run cannot show the rollback streaks: n/a, skipped whatever the mapping.
    default_skipped = [c.get("name") for c in default.findall("testcase") if c.find("skipped") is not None]
    assert default_skipped == ["rollback.rate_5xx_5min@run", "rollback.rate_2xx_10min@run"]
