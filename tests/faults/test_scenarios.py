"""Scenario resolution: the reference environment's topology turned into primitives (no I/O)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import TypeAdapter

import chaos.faults
from chaos.errors import FaultError, SpecError
from chaos.faults import describe_fault, resolve_fault, targets_for
from chaos.spec.faults import Fault
from chaos.spec.loader import load_environment, parse_environment

ROOT = Path(__file__).resolve().parents[2]
LOCAL = load_environment(ROOT / "environments" / "local.yaml")
COMPOSE = load_environment(ROOT / "environments" / "compose.yaml")
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
    ({"scenario": "redis_loss", "mode": "network", "cut": "down"},
     [("toxiproxy.disable", "us-east-redis"), ("toxiproxy.disable", "us-west-redis")]),
    ({"scenario": "redis_loss", "mode": "network", "cut": "reset"},
     [("toxiproxy.toxic", "us-east-redis"), ("toxiproxy.toxic", "us-east-redis"),
      ("toxiproxy.toxic", "us-west-redis"), ("toxiproxy.toxic", "us-west-redis")]),
    ({"scenario": "region_failover", "target": "us-east", "mode": "network"},
     [("toxiproxy.disable", "router-us-east")]),
    ({"scenario": "region_failover", "target": "us-east", "mode": "network", "via": "toxiproxy"},
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


def test_redis_cut_reset_adds_reset_peer_both_ways_on_every_redis_proxy() -> None:
    """cut: reset is a reset_peer toxic (timeout 0) upstream and downstream per Redis proxy,
    named chaos_<id>_... so cleanup finds it."""
    prims = resolve_fault(fault(scenario="redis_loss", mode="network", cut="reset"), LOCAL)
    assert [(p.target, p.params["name"], p.params["type"], p.params["attributes"]) for p in prims] == [
        (proxy, f"chaos_f_reset_peer_{stream}", "reset_peer", {"timeout": 0})
        for proxy in ("us-east-redis", "us-west-redis") for stream in ("upstream", "downstream")]


def test_docker_network_disconnects_each_region_container_from_each_network(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """via docker_network on the compose environment: the region's gateway (a compose ref of
    the expanded project) leaves the stack's network; aliases are saved later, by prepare()."""
    monkeypatch.delenv("CHAOS_COMPOSE_PROJECT", raising=False)
    [p] = resolve_fault(fault(scenario="region_failover", target="us-east", mode="network",
                              via="docker_network"), COMPOSE)
    assert (p.kind, p.target, dict(p.params)) == (
        "docker.disconnect", "compose:chaos-testbed/gateway-us-east",
        {"network": "chaos-testbed_testbed"})
    assert describe_fault(fault(scenario="region_failover", target="us-west", mode="network",
                                via="docker_network"), COMPOSE) == [
        "docker: disconnect container compose:chaos-testbed/gateway-us-west from network "
        "chaos-testbed_testbed"]


def test_compose_project_and_networks_follow_the_environment_variable(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """CHAOS_COMPOSE_PROJECT moves the project in the journal's targets, in every compose ref
    and in the region's network names alike."""
    monkeypatch.setenv("CHAOS_COMPOSE_PROJECT", "other-stack")
    assert targets_for(COMPOSE).compose_project == "other-stack"
    [stop] = resolve_fault(fault(scenario="region_failover", target="us-east", mode="stop"), COMPOSE)
    assert stop.target == "compose:other-stack/gateway-us-east"
    [cut] = resolve_fault(fault(scenario="region_failover", target="us-east", mode="network",
                                via="docker_network"), COMPOSE)
    assert (cut.target, cut.params["network"]) == ("compose:other-stack/gateway-us-east",
                                                   "other-stack_testbed")


def test_docker_network_reports_what_the_environment_lacks() -> None:
    """On the process-runtime local environment: a FaultError naming the region and every
    missing piece; on a docker region without networks, the networks."""
    with pytest.raises(FaultError) as info:
        resolve_fault(fault(scenario="region_failover", target="us-east", mode="network",
                            via="docker_network"), LOCAL)
    assert str(info.value) == (
        "fault resolve region_failover via docker_network on us-east: needs runtime kind "
        "'docker' (not 'process') and topology.regions.us-east.networks")
    assert info.value.target == "us-east"
    text = (ROOT / "environments" / "compose.yaml").read_text("utf-8")
    bare = parse_environment(text.replace(
        '      networks: ["${CHAOS_COMPOSE_PROJECT:-chaos-testbed}_testbed"]\n', ""), path="e.yaml")
    with pytest.raises(FaultError, match=r"on us-west: needs topology.regions.us-west.networks$"):
        resolve_fault(fault(scenario="region_failover", target="us-west", mode="network",
                            via="docker_network"), bare)


def test_unset_variable_in_a_network_name_is_a_spec_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """A `${VAR}` without default in a region network names the variable and the field."""
    monkeypatch.delenv("CHAOS_TEST_NO_SUCH_NET", raising=False)
    text = (ROOT / "environments" / "compose.yaml").read_text("utf-8").replace(
        '["${CHAOS_COMPOSE_PROJECT:-chaos-testbed}_testbed"]', '["${CHAOS_TEST_NO_SUCH_NET}"]')
    env = parse_environment(text, path="e.yaml")
    with pytest.raises(SpecError, match=r"topology.regions.us-east.networks\[0\].*CHAOS_TEST_NO_SUCH_NET"):
        resolve_fault(fault(scenario="region_failover", target="us-east", mode="network",
                            via="docker_network"), env)


def test_public_exports_exist() -> None:
    """Everything in chaos.faults.__all__ is importable."""
    for name in chaos.faults.__all__:
        assert getattr(chaos.faults, name) is not None
