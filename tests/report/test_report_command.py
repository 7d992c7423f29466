"""`chaos report` still re-judges drill bundles now that it also tells release bundles apart."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from typer.testing import CliRunner

from chaos.cli import app
from chaos.errors import ExitCode
from chaos.report.reader import bundle_kind
from chaos.report.render import write_final_files
from chaos.run.judge import judge
from chaos.slo import EvaluationConfig
from tests.report.synthetic import recording


def _drill_bundle(path: Path) -> Path:
    config = EvaluationConfig(tier="L")
    inputs = {"evaluation": dataclasses.asdict(config) | {"overrides": {}}}
    _, evidence = judge(recording(), config, drill="provider-outage", state="complete", inputs=inputs)
    write_final_files(path, evidence)
    return path


def test_a_drill_bundle_is_re_judged_with_the_same_verdicts(tmp_path: Path) -> None:
    bundle = _drill_bundle(tmp_path / "drill")
    assert bundle_kind(bundle) == "drill"
    out = CliRunner().invoke(app, ["report", str(bundle)])
    assert "same verdicts as the run" in out.output, out.output
    assert out.exit_code in (ExitCode.PASS, ExitCode.FAIL, ExitCode.INCONCLUSIVE)


def test_a_killed_run_with_only_run_json_is_a_drill_bundle(tmp_path: Path) -> None:
    (tmp_path / "run.json").write_text('{"state": "running"}')
    assert bundle_kind(tmp_path) == "drill"


def test_changed_verdicts_are_listed_as_plain_words() -> None:
    """What `chaos report` prints when a re-judged bundle differs from its run."""
    from chaos.run.rejudge import Rejudged

    report_l, original = judge(recording(), EvaluationConfig(tier="L"), drill="d", state="complete",
                               inputs={})
    _, other = judge(recording(), EvaluationConfig(tier="X"), drill="d", state="complete", inputs={})
    diffs = Rejudged(original=original, evidence=other, report=report_l, written_to=None).differences()
    assert diffs
    for line in diffs:
        assert "Verdict." not in line, line
        before, after = line.rsplit(": ", 1)[1].split(" -> ")
        assert {before, after} <= {"PASS", "FAIL", "INCONCLUSIVE", "-"}, line
