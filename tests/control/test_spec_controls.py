"""The spec of the controls: `hold`, `guardrails.kill_switch` and PromQL abort conditions,
with their errors located in the file."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from chaos.errors import SpecError
from chaos.spec import check_drill_against_environment
from chaos.spec.loader import parse_drill, parse_environment

ROOT = Path(__file__).resolve().parents[2]


def _drill(abort: list[dict[str, object]], hold: bool = False) -> str:
    doc = yaml.safe_load((ROOT / "experiments" / "provider-outage-down.yaml").read_text("utf-8"))
    doc["abort"] = abort
    doc["faults"][0]["hold"] = hold
    return yaml.safe_dump(doc, sort_keys=False)


def _env(**changes: object) -> str:
    doc = yaml.safe_load((ROOT / "environments" / "local.yaml").read_text("utf-8"))
    for key, value in changes.items():
        section, field = key.split("__")
        doc[section][field] = value
    return yaml.safe_dump(doc, sort_keys=False)


def test_a_fault_may_hold_and_a_condition_may_be_promql() -> None:
    drill = parse_drill(_drill([{"name": "alert", "promql": "up == 0", "for": "30s"},
                                {"name": "burn", "promql": "sum(x)", "above": 0.2}], hold=True), path="d.yaml")
    assert drill.faults[0].hold is True
    assert drill.abort[0].promql == "up == 0"
    assert drill.abort[0].above is None
    assert drill.abort[1].above == 0.2


@pytest.mark.parametrize(("abort", "message"), [
    ({"name": "x", "promql": "up", "above": 1, "below": 0}, "at most one of 'above' or 'below'"),
    ({"name": "x", "promql": "up", "metric": "rate_5xx", "above": 1}, "exactly one of 'metric' or 'promql'"),
    ({"name": "x", "above": 1}, "exactly one of 'metric' or 'promql'"),
])
def test_bad_abort_conditions_are_refused(abort: dict[str, object], message: str) -> None:
    with pytest.raises(SpecError) as refused:
        parse_drill(_drill([abort]), path="d.yaml")
    assert message in str(refused.value), str(refused.value)


def test_a_promql_condition_needs_the_environments_prometheus() -> None:
    drill = parse_drill(_drill([{"name": "alert", "promql": "up == 0"}]), path="d.yaml")
    env = parse_environment(_env(), path="e.yaml")
    assert env.metrics.prometheus is None
    with pytest.raises(SpecError) as refused:
        check_drill_against_environment(drill, env, drill_path="d.yaml", env_path="e.yaml")
    assert "metrics.prometheus" in str(refused.value)
    with_prometheus = parse_environment(_env(metrics__prometheus="http://127.0.0.1:9090"), path="e.yaml")
    check_drill_against_environment(drill, with_prometheus, drill_path="d.yaml", env_path="e.yaml")


def test_a_kill_switch_is_a_file_or_a_url() -> None:
    env = parse_environment(_env(guardrails__kill_switch={"file": "/tmp/STOP"}), path="e.yaml")
    assert env.guardrails.kill_switch is not None
    assert env.guardrails.kill_switch.file == "/tmp/STOP"
    with pytest.raises(SpecError) as refused:
        parse_environment(_env(guardrails__kill_switch={"file": "/tmp/STOP", "url": "http://x/"}), path="e.yaml")
    assert "exactly one of 'file' or 'url'" in str(refused.value)
