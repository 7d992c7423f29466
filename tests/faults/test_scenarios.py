"""Scenario resolution: the reference environment's topology turned into primitives (no I/O)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import TypeAdapter

import chaos.faults
from chaos.errors import FaultError
from chaos.faults import describe_fault, resolve_fault, targets_for
from chaos.spec.faults import Fault
from chaos.spec.loader import load_environment

ROOT = Path(__file__).resolve().parents[2]
LOCAL = load_environment(ROOT / "environments" / "local.yaml")
FAULTS: TypeAdapter[Any] = TypeAdapter(Fault)


def fault(**fields: Any) -> Any:
    return FAULTS.validate_python({"id": "f", "at": "1m", "for": "30s", **fields})


@pytest.mark.parametrize(("fields", "expected"), [
    ({"scenario": "provider_outage", "target": "primary", "mode": "down"},
     [("toxiproxy.disable", "us-east-primary"), ("toxiproxy.disable", "us-west-primary")]),
    ({"scenario": "provider_outage", "target": "primary", "mode": "down", "regions": ["us-west"]},
     [("toxiproxy.disable", "us-west-primary")]),
    ({"scenario": "provider_outage", "target": "fallback", "mode": "latency", "latency": "1.5s",
      "jitter": "100ms"},
     [("toxiproxy.toxic", "us-east-fallback"), ("toxiproxy.toxic", "us-west-fallback")]),
    ({"scenario": "redis_loss", "mode": "kill"}, [("process.kill", "redis")]),
    ({"scenario": "redis_loss", "mode": "pause"}, [("process.stop", "redis")]),
    ({"scenario": "redis_loss", "mode": "network"},
     [("toxiproxy.disable", "us-east-redis"), ("toxiproxy.disable", "us-west-redis")]),
    ({"scenario": "region_failover", "target": "us-east", "mode": "network"},
     [("toxiproxy.disable", "router-us-east")]),
    ({"scenario": "region_failover", "target": "us-west", "mode": "stop"},
     [("process.kill", "gateway-us-west")]),
    ({"scenario": "region_failover", "target": "us-east", "mode": "drain"},
     [("http", "http://127.0.0.1:18080/admin/regions/us-east/drain")]),
])
def test_scenarios_resolve_the_topology(fields: dict[str, Any], expected: list[tuple[str, str]]) -> None:
    """Each scenario/mode becomes the primitives its DESIGN table names, on the right targets."""
    assert [(p.kind, p.target) for p in resolve_fault(fault(**fields), LOCAL)] == expected


def test_toxic_parameters_carry_units_and_prefix() -> None:
    """latency 1.5s +/- 100ms becomes a downstream latency toxic of 1500/100 ms named chaos_<id>_..."""
    [p, _] = resolve_fault(fault(scenario="provider_outage", target="primary", mode="latency",
                                 latency="1.5s", jitter="100ms"), LOCAL)
    assert p.params == {"name": "chaos_f_latency_downstream", "type": "latency",
                        "stream": "downstream", "toxicity": 1.0,
                        "attributes": {"latency": 1500, "jitter": 100}}


def test_partial_and_blackhole_and_slow_toxics() -> None:
    """partial: reset_peer with the toxicity; blackhole: timeout 0 both ways; slow: bandwidth."""
    partial = resolve_fault(fault(scenario="provider_outage", target="primary", mode="partial",
                                  toxicity="10%"), LOCAL)[0]
    assert (partial.params["type"], partial.params["toxicity"]) == ("reset_peer", 0.1)
    hole = resolve_fault(fault(scenario="provider_outage", target="primary", mode="blackhole"), LOCAL)
    assert {(p.params["type"], p.params["stream"], p.params["attributes"]["timeout"]) for p in hole} == {
        ("timeout", "upstream", 0), ("timeout", "downstream", 0)}
    slow = resolve_fault(fault(scenario="provider_outage", target="primary", mode="slow",
                               rate_kbps=8), LOCAL)[0]
    assert slow.params["attributes"] == {"rate": 8}


def test_http_errors_use_the_provider_fault_switch() -> None:
    """http_errors posts status / retry-after / rate to the route's switch; revert deletes it."""
    [p] = resolve_fault(fault(scenario="provider_outage", target="primary", mode="http_errors",
                              status=503, retry_after="5s", toxicity="50%"), LOCAL)
    assert p.params["apply"] == {"method": "POST", "url": "http://127.0.0.1:18091/admin/fault",
                                 "body": {"status": 503, "retry_after_s": 5.0, "rate": 0.5},
                                 "expect_status": 200}
    assert p.params["undo"]["method"] == "DELETE"


def test_describe_fault_is_human_readable() -> None:
    """describe_fault gives one line per primitive for `chaos plan`."""
    lines = describe_fault(fault(scenario="region_failover", target="us-east", mode="network"), LOCAL)
    assert lines == ["toxiproxy: disable proxy router-us-east (refuse new, close open connections)"]


def test_unknown_targets_fail_with_context() -> None:
    """An unknown route, region or region filter is a one-line FaultError naming it."""
    with pytest.raises(FaultError, match="no provider route 'nope'"):
        resolve_fault(fault(scenario="provider_outage", target="nope", mode="down"), LOCAL)
    with pytest.raises(FaultError, match="no region 'eu'"):
        resolve_fault(fault(scenario="region_failover", target="eu", mode="network"), LOCAL)
    with pytest.raises(FaultError, match="region 'eu'"):
        resolve_fault(fault(scenario="provider_outage", target="primary", mode="down",
                            regions=["eu"]), LOCAL)


def test_targets_expand_environment_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    """The journal header's targets have ${VAR:-default} resolved and ~ expanded."""
    monkeypatch.delenv("CHAOS_TESTBED_STATE", raising=False)
    targets = targets_for(LOCAL)
    assert targets.toxiproxy_api == "http://127.0.0.1:18474"
    assert targets.runtime == "process"
    assert targets.state_file == str(Path("~/.chaos/testbed/state.json").expanduser())


def test_public_exports_exist() -> None:
    """Everything in chaos.faults.__all__ is importable."""
    for name in chaos.faults.__all__:
        assert getattr(chaos.faults, name) is not None
