"""`chaos validate`, `chaos schema` and `chaos plan` through the real Typer app."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from chaos.cli import app
from chaos.cli.spec_cmds import SCHEMA_FILES, schema_documents, schema_text
from tests.run.preflight_env import DRILL, create_proxies, write_env
from tests.servers import ToxiproxyServer, free_port

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT / "tests" / "spec" / "corpus"
runner = CliRunner()


def test_validate_accepts_every_shipped_file() -> None:
    """Every file in experiments/ and environments/ validates (exit 0, one ok line each)."""
    files = sorted(str(p) for d in ("experiments", "environments") for p in (ROOT / d).glob("*.yaml"))
    result = runner.invoke(app, ["validate", *files])
    assert result.exit_code == 0, result.output
    assert result.output.count("ok ") == len(files)


def test_validate_checks_drills_against_an_environment() -> None:
    result = runner.invoke(app, ["validate", str(ROOT / "experiments" / "regional-failover.yaml"),
                                 "--env", str(ROOT / "environments" / "local.yaml")])
    assert result.exit_code == 0, result.output
    assert "against" in result.output


def test_validate_prints_one_line_per_issue_and_exits_2() -> None:
    """An invalid drill gives its located issues, one per line, and exit code 2."""
    bad = CORPUS / "d-many-errors-at-once.yaml"
    good = ROOT / "experiments" / "regional-failover.yaml"
    result = runner.invoke(app, ["validate", str(good), str(bad)])
    assert result.exit_code == 2
    lines = [line for line in result.output.splitlines() if line.startswith(str(bad))]
    assert [line.split(": ", 1)[0] for line in lines] == [f"{bad}:4:7", f"{bad}:7:3", f"{bad}:16:5"]
    assert "did you mean 'streams'?" in result.output
    assert f"ok {good}" in result.output


def test_validate_detects_environments_by_content() -> None:
    result = runner.invoke(app, ["validate", str(CORPUS / "e-production-refused.yaml")])
    assert result.exit_code == 2
    assert "e-production-refused.yaml:4:7: kind: production environments are refused" in result.output
    allowed = runner.invoke(app, ["validate", "--allow-production", str(CORPUS / "e-production-refused.yaml")])
    assert allowed.exit_code == 0, allowed.output


def test_validate_refuses_a_file_that_is_neither(tmp_path: Path) -> None:
    path = tmp_path / "x.yaml"
    path.write_text("hello: world\n")
    result = runner.invoke(app, ["validate", str(path)])
    assert result.exit_code == 2
    assert f"{path}:1:1: not a drill" in result.output


def test_committed_schemas_are_current() -> None:
    """schema/*.json equal what `chaos schema` generates now (run `chaos schema --out schema`)."""
    for name, document in schema_documents().items():
        committed = (ROOT / "schema" / name).read_text(encoding="utf-8")
        assert committed == schema_text(document), f"schema/{name} is stale: run `chaos schema --out schema`"


def test_schema_command_writes_both_files(tmp_path: Path) -> None:
    result = runner.invoke(app, ["schema", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    for name in SCHEMA_FILES:
        document = json.loads((tmp_path / name).read_text())
        assert document["$schema"].startswith("https://json-schema.org/")
    printed = json.loads(runner.invoke(app, ["schema"]).output)
    assert set(printed) == set(SCHEMA_FILES)
    drill_schema = printed["drill.schema.json"]
    assert {"version", "name", "tier", "duration", "load"} <= set(drill_schema["required"])


def test_plan_prints_timeline_without_preflight(tmp_path: Path) -> None:
    """The plan lists phases with absolute offsets, SLO scopes, fault windows and primitives."""
    drill = tmp_path / "drill.yaml"
    drill.write_text(DRILL)
    dead = f"http://127.0.0.1:{free_port()}"
    env = write_env(tmp_path, dead, base_url=dead, state_file=tmp_path / "state.json")
    result = runner.invoke(app, ["plan", str(drill), "--env", str(env), "--no-preflight"])
    assert result.exit_code == 0, result.output
    out = result.output
    for row in ("ramp_up", "baseline", "fault:cut-east", "between:cut-east..slow-primary",
                "fault:slow-primary", "recovery", "ramp_down"):
        assert row in out
    assert "+1:00 .. +2:00" in out
    assert "+2:30 .. +3:00" in out
    assert "router-us-east" in out  # the fault's primitives
    assert "~10 concurrent streams" in out
    assert "not judged" in out
    assert "preflight:" not in out


def test_plan_time_scale_compresses_offsets(tmp_path: Path) -> None:
    drill = tmp_path / "drill.yaml"
    drill.write_text(DRILL)
    dead = f"http://127.0.0.1:{free_port()}"
    env = write_env(tmp_path, dead, base_url=dead, state_file=tmp_path / "state.json")
    result = runner.invoke(app, ["plan", str(drill), "--env", str(env), "--no-preflight", "--time-scale", "0.1"])
    assert result.exit_code == 0, result.output
    assert "+0:06 .. +0:12" in result.output


def test_plan_reports_found_and_missing_proxies_and_exits_4(
    toxiproxy: ToxiproxyServer, tmp_path: Path
) -> None:
    """Against the real Toxiproxy, plan names the proxies found and missing; failures exit 4."""
    create_proxies(toxiproxy.api_url, ["us-east-primary", "router-us-east"])
    drill = tmp_path / "drill.yaml"
    drill.write_text(DRILL)
    dead = f"http://127.0.0.1:{free_port()}"
    env = write_env(tmp_path, toxiproxy.api_url, base_url=dead, state_file=tmp_path / "state.json")
    result = runner.invoke(app, ["plan", str(drill), "--env", str(env)])
    assert result.exit_code == 4, result.output
    out = result.output
    assert f"ok toxiproxy: {toxiproxy.api_url} answers, version" in out
    assert ("FAIL proxies: 3 of 5 missing: us-west-primary, us-east-redis, router-us-west "
            "(found: us-east-primary, router-us-east)") in out
    assert "FAIL target:" in out
    assert "FAIL processes:" in out


def test_plan_with_invalid_drill_exits_2(tmp_path: Path) -> None:
    env = write_env(tmp_path, "http://127.0.0.1:1", base_url="http://127.0.0.1:1", state_file=tmp_path / "s")
    result = runner.invoke(app, ["plan", str(CORPUS / "d-bad-tier.yaml"), "--env", str(env)])
    assert result.exit_code == 2
    assert "d-bad-tier.yaml:4:7: tier:" in result.output


def test_plan_shows_holds_and_abort_conditions_compressed(tmp_path: Path) -> None:
    """A held fault says it waits for `chaos resume`; the stop conditions are listed as the
    run will watch them (their `for` compressed by --time-scale), PromQL ones too."""
    drill = tmp_path / "drill.yaml"
    text = DRILL.replace("    scenario: region_failover\n", "    scenario: region_failover\n    hold: true\n", 1)
    text += """abort:
  - name: total-outage
    metric: rate_5xx
    above: 50%
    for: 40s
  - name: team-alert
    promql: 'ALERTS{alertname="GatewayDown"}'
    for: 20s
"""
    drill.write_text(text)
    dead = f"http://127.0.0.1:{free_port()}"
    env = write_env(tmp_path, dead, base_url=dead, state_file=tmp_path / "state.json")
    env.write_text(env.read_text("utf-8").replace("metrics:\n", f"metrics:\n  prometheus: {dead}\n"), "utf-8")
    result = runner.invoke(app, ["plan", str(drill), "--env", str(env), "--no-preflight",
                                 "--time-scale", "0.5"])
    assert result.exit_code == 0, result.output
    out = result.output
    assert out.count("hold: waits for `chaos resume`") == 1, out
    assert "  - total-outage: rate_5xx > 0.5 held 20s" in out
    assert '  - team-alert: PromQL ALERTS{alertname="GatewayDown"} (any series > 0) held 10s' in out
