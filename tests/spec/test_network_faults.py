"""The network cut options: region_failover `via`, redis_loss `cut`, a region's `networks`."""

from __future__ import annotations

from pathlib import Path

import pytest

from chaos.errors import SpecError
from chaos.spec import (
    RedisLossFault,
    RegionFailoverFault,
    check_drill_against_environment,
    load_drill,
    load_environment,
    parse_drill,
    parse_environment,
)

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "environments" / "compose.yaml"
LOCAL = ROOT / "environments" / "local.yaml"

DRILL = """\
version: 1
name: network-cuts
tier: L
duration: 10m
load:
  streams: 100
  ramp_up: 30s
  ramp_down: 30s
faults:
  - id: f1
    at: 2m
    for: 1m
{fault}
"""


def drill(fault: str) -> str:
    return DRILL.format(fault="\n".join(f"    {line}" for line in fault.splitlines()))


def test_via_and_cut_default_to_none_meaning_toxiproxy_and_down() -> None:
    """Without `via` / `cut` the fields are None: the long-standing Toxiproxy behaviour."""
    region = parse_drill(drill("scenario: region_failover\ntarget: us-east\nmode: network"))
    redis = parse_drill(drill("scenario: redis_loss\nmode: network"))
    assert isinstance(region.faults[0], RegionFailoverFault)
    assert region.faults[0].via is None
    assert isinstance(redis.faults[0], RedisLossFault)
    assert redis.faults[0].cut is None


@pytest.mark.parametrize("via", ["toxiproxy", "docker_network"])
def test_region_failover_network_accepts_via(via: str) -> None:
    fault = parse_drill(drill(f"scenario: region_failover\ntarget: us-east\nmode: network\nvia: {via}"))
    assert fault.faults[0].via == via  # type: ignore[union-attr]  # a RegionFailoverFault


@pytest.mark.parametrize("cut", ["down", "reset"])
def test_redis_loss_network_accepts_cut(cut: str) -> None:
    fault = parse_drill(drill(f"scenario: redis_loss\nmode: network\ncut: {cut}"))
    assert fault.faults[0].cut == cut  # type: ignore[union-attr]  # a RedisLossFault


def test_explicit_default_still_only_applies_to_mode_network() -> None:
    """`via: toxiproxy` on mode drain is refused like any other value: it would mean nothing."""
    with pytest.raises(SpecError, match="'via' does not apply to mode 'drain'") as info:
        parse_drill(drill("scenario: region_failover\ntarget: us-east\nmode: drain\nvia: toxiproxy"),
                    path="d.yaml")
    assert str(info.value.issues[0]).startswith("d.yaml:16:10: faults[0].via: ")


def test_compose_environment_lists_each_regions_network_raw() -> None:
    """The compose environment names the stack's network per region, `${VAR}` kept raw."""
    env = load_environment(COMPOSE)
    assert env.runtime.kind == "docker"
    assert env.runtime.compose_project == "${CHAOS_COMPOSE_PROJECT:-chaos-testbed}"
    for region in env.topology.regions.values():
        assert region.networks == ("${CHAOS_COMPOSE_PROJECT:-chaos-testbed}_testbed",)


def test_docker_network_drill_is_valid_against_the_compose_environment() -> None:
    d = parse_drill(drill("scenario: region_failover\ntarget: us-west\nmode: network\n"
                          "via: docker_network"))
    check_drill_against_environment(d, load_environment(COMPOSE), drill_path="d.yaml",
                                    env_path=COMPOSE)


def test_docker_network_needs_a_docker_runtime_and_the_regions_networks(tmp_path: Path) -> None:
    """Against the process-runtime local environment the drill check names what is missing,
    at the `via` line."""
    path = tmp_path / "d.yaml"
    path.write_text(drill("scenario: region_failover\ntarget: us-east\nmode: network\n"
                          "via: docker_network"), "utf-8")
    with pytest.raises(SpecError) as info:
        check_drill_against_environment(load_drill(path), load_environment(LOCAL),
                                        drill_path=path, env_path="local.yaml")
    (issue,) = info.value.issues
    assert (issue.line, issue.field) == (16, "faults[0].via")
    assert issue.message == ("via 'docker_network' needs runtime kind 'docker' and "
                             "topology.regions.us-east.networks (local.yaml)")


def test_docker_network_needs_no_region_proxies() -> None:
    """A region reached only through Docker networks (no Toxiproxy link) can still fail over."""
    text = COMPOSE.read_text("utf-8").replace("      proxies: [router-us-east]\n", "")
    env = parse_environment(text, path="env.yaml")
    d = parse_drill(drill("scenario: region_failover\ntarget: us-east\nmode: network\n"
                          "via: docker_network"), path="d.yaml")
    check_drill_against_environment(d, env, drill_path="d.yaml", env_path="env.yaml")
    with pytest.raises(SpecError, match=r"needs topology\.regions\.us-east\.proxies"):
        check_drill_against_environment(
            parse_drill(drill("scenario: region_failover\ntarget: us-east\nmode: network"),
                        path="d.yaml"), env, drill_path="d.yaml", env_path="env.yaml")
