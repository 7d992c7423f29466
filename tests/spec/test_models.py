"""The reference files load into frozen models with typed values, and semantic checks hold."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pydantic
import pytest

import chaos.spec
from chaos.errors import SpecError
from chaos.spec import (
    Drill,
    ProviderOutageFault,
    RegionFailoverFault,
    check_drill_against_environment,
    load_drill,
    load_environment,
    parse_drill,
    parse_environment,
)

ROOT = Path(__file__).resolve().parents[2]
DRILLS = sorted(p for p in (ROOT / "experiments").glob("*.yaml")
                if "\nkind: release" not in p.read_text(encoding="utf-8"))
ENVS = sorted((ROOT / "environments").glob("*.yaml"))
LOCAL = ROOT / "environments" / "local.yaml"
REGIONAL = ROOT / "experiments" / "regional-failover-unplanned.yaml"


def test_public_api_exports_exist() -> None:
    """Everything in chaos.spec.__all__ is importable."""
    for name in chaos.spec.__all__:
        assert hasattr(chaos.spec, name), name


@pytest.mark.parametrize("path", DRILLS, ids=[p.name for p in DRILLS])
def test_every_shipped_drill_is_valid_against_local(path: Path) -> None:
    drill = load_drill(path)
    check_drill_against_environment(drill, load_environment(LOCAL), drill_path=path, env_path=LOCAL)


@pytest.mark.parametrize("path", ENVS, ids=[p.name for p in ENVS])
def test_every_shipped_environment_is_valid(path: Path) -> None:
    load_environment(path)


def test_reference_drill_values_are_typed() -> None:
    """Durations are timedeltas, percentages fractions, `for` is `for_`, abort thresholds in natural units."""
    drill = load_drill(REGIONAL)
    assert drill.duration == timedelta(minutes=8)
    assert drill.load.concurrent_streams == 200
    assert drill.load.timeouts.total == timedelta(minutes=2)
    fault = drill.faults[0]
    assert isinstance(fault, RegionFailoverFault)
    assert (fault.at, fault.for_, fault.end) == (timedelta(minutes=3), timedelta(minutes=2), timedelta(minutes=5))
    assert drill.abort[0].above == 0.5
    assert drill.abort[0].for_ == timedelta(seconds=30)
    assert drill.steady_state[1].labels == {"route": "primary"}


def test_models_are_frozen() -> None:
    drill = load_drill(REGIONAL)
    with pytest.raises(pydantic.ValidationError):
        drill.name = "other"  # type: ignore[misc]


def test_environment_keeps_secrets_unresolved() -> None:
    """${VAR} references stay raw in the model (expanded only at run time)."""
    env = load_environment(LOCAL)
    assert env.target.auth is not None
    assert env.target.auth.token == "${CHAOS_TOKEN:-tb-{subject}}"
    assert env.metrics.queries.circuit_state == "provider_circuit_state"


def test_abort_thresholds_use_each_metrics_natural_unit() -> None:
    text = REGIONAL.read_text().replace(
        "abort:\n", "abort:\n  - {name: slow, metric: p95_first_token_ms, above: 3s}\n"
        "  - {name: queue, metric: queue_oldest_age_s, above: 2m}\n")
    drill = parse_drill(text)
    assert [a.above for a in drill.abort[:2]] == [3000.0, 120.0]


def test_profile_sets_the_stream_count() -> None:
    text = REGIONAL.read_text().replace("streams: 200", "profile: m3_20k")
    assert parse_drill(text).load.concurrent_streams == 20_000


def test_counts_accept_k_suffix() -> None:
    assert parse_drill(REGIONAL.read_text().replace("streams: 200", "streams: 20k")).load.streams == 20_000


def test_provider_fault_modes_take_their_params() -> None:
    text = REGIONAL.read_text().replace(
        "faults:\n", "faults:\n  - {id: slow, scenario: provider_outage, target: primary, mode: latency,"
        " latency: 800ms, jitter: 100ms, at: 3m, for: 30s, regions: [us-east]}\n")
    fault = parse_drill(text).faults[0]
    assert isinstance(fault, ProviderOutageFault)
    assert fault.latency == timedelta(milliseconds=800)


def test_declared_overlap_is_allowed() -> None:
    """Two faults on one target may overlap when one lists the other in `overlaps`."""
    base = REGIONAL.read_text()
    extra = ("  - {id: also, scenario: region_failover, target: us-east, mode: stop, at: 4m, for: 30s,"
             " overlaps: [us-east-down]}\n")
    drill = parse_drill(base.replace("limits:", extra + "limits:"))
    assert [f.id for f in drill.faults] == ["us-east-down", "also"]
    with pytest.raises(SpecError, match="overlaps fault 'us-east-down'"):
        parse_drill(base.replace("limits:", extra.replace(", overlaps: [us-east-down]", "") + "limits:"))


def test_production_needs_explicit_permission() -> None:
    text = LOCAL.read_text().replace("kind: local", "kind: production")
    with pytest.raises(SpecError, match="refused without --allow-production"):
        parse_environment(text)
    assert parse_environment(text, allow_production=True).kind == "production"


def test_guardrail_on_scenarios_is_enforced() -> None:
    """A drill whose scenario the environment does not allow fails the environment check."""
    env = parse_environment(LOCAL.read_text().replace(
        "allowed_scenarios: [provider_outage, redis_loss, region_failover]",
        "allowed_scenarios: [provider_outage]"), path="env.yaml")
    with pytest.raises(SpecError) as info:
        check_drill_against_environment(load_drill(REGIONAL), env, drill_path=REGIONAL, env_path="env.yaml")
    issue = info.value.issues[0]
    assert (issue.line, issue.field) == (27, "faults[0].scenario")
    assert "does not allow scenario 'region_failover'" in issue.message


def test_unreadable_file_is_a_spec_error(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="cannot read the file"):
        load_drill(tmp_path / "nope.yaml")


def test_models_can_be_built_in_python() -> None:
    """Models accept Python values and the `for_` name as well as YAML strings."""
    drill = Drill.model_validate({
        "version": 1, "name": "py", "tier": "L", "duration": timedelta(minutes=5),
        "load": {"streams": 10},
        "faults": [{"id": "a", "scenario": "redis_loss", "mode": "kill", "at": 60, "for_": 30}],
    })
    assert drill.faults[0].target == "redis"
    assert drill.faults[0].for_ == timedelta(seconds=30)
