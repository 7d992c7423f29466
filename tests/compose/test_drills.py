"""Drills against the compose stack with real container faults (compressed in time and load)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import anyio
import httpx
import pytest

from chaos.faults.docker_runtime import DockerRuntime
from chaos.run.options import RunOptions, RunResult
from chaos.run.orchestrator import run_drill
from chaos.slo.verdict import Verdict
from chaos.spec import load_drill, load_environment
from chaos.testbed.docker_stack import SERVICES, ComposeStack, docker_status
from tests.servers import wait_for

pytestmark = [pytest.mark.docker, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
DRILLS = Path(__file__).parent / "drills"


def environment_text(stack: ComposeStack) -> str:
    """environments/compose.yaml with this stack's published ports (project left as is)."""
    text = (ROOT / "environments" / "compose.yaml").read_text("utf-8")

    def port(match: re.Match[str]) -> str:
        service = match.group(1).lower().replace("_", "-")
        return str(stack.host_port(service))

    return re.sub(r"\$\{CHAOS_COMPOSE_([A-Z_]+)_PORT:-\d+\}", port, text)


def stack_environment(stack: ComposeStack, dest: Path) -> Path:
    """environments/compose.yaml pointed at this stack: its project name and its ports."""
    text = environment_text(stack).replace("${CHAOS_COMPOSE_PROJECT:-chaos-testbed}", stack.project)
    path = dest / "compose.yaml"
    path.write_text(text, "utf-8")
    return path


def assert_stack_intact(stack: ComposeStack) -> None:
    """Every container running, unpaused and healthy, each still reachable by its name."""
    wait_for(lambda: docker_status(stack).healthy, 60, "every service healthy after the drill")
    status = docker_status(stack)
    network = f"{stack.project}_testbed"
    for service in SERVICES:
        s = status.service(service)
        assert s.state == "running", s
        assert service in s.networks[network], s


def run(drill: str, stack: ComposeStack, tmp_path: Path) -> RunResult:
    env = load_environment(stack_environment(stack, tmp_path))
    options = RunOptions(time_scale=0.25, load_scale=0.1, evidence_dir=tmp_path / "runs",
                         live=False)
    return anyio.run(run_drill, load_drill(DRILLS / drill), env, options)


def served_by(result: RunResult, region: str) -> int:
    assert result.bundle is not None
    summary = (result.bundle / "summary.md").read_text("utf-8")
    match = re.search(rf"served by region:.*\b{region}: ([\d,]+)", summary)
    return int(match.group(1).replace(",", "")) if match else 0


def test_regional_failover_by_container_stop_completes_fails_over_and_reverts(
        compose_stack: ComposeStack, tmp_path: Path) -> None:
    """The run completes, us-west serves while the us-east gateway container is stopped, and
    the container runs healthy again. (Tier G is not met yet: the testbed router answers
    503 gateway_unhealthy during detection instead of retrying on the other region.)"""
    result = run("regional-failover-stop.yaml", compose_stack, tmp_path)
    assert result.state == "complete", (result.reason, result.bundle)
    assert result.verdict is not None
    assert served_by(result, "us-west") > 0, result.bundle
    assert_stack_intact(compose_stack)


def test_redis_loss_by_container_kill_fails_closed_and_recovers(
        compose_stack: ComposeStack, tmp_path: Path) -> None:
    result = run("redis-loss-kill.yaml", compose_stack, tmp_path)
    # Fail-closed gateways answer 503 redis_unavailable while Redis is gone: Tier L is not met
    # in the fault window, so the drill fails; the run itself completes and reverts.
    assert result.state == "complete", (result.reason, result.bundle)
    assert result.verdict is Verdict.FAIL, result.bundle
    assert_stack_intact(compose_stack)


def test_regional_failover_by_network_disconnect_fails_over_and_restores_aliases(
        compose_stack: ComposeStack, tmp_path: Path) -> None:
    """region_failover via docker_network: the run completes, us-west serves while the us-east
    gateway container is off the stack's network, the revert reconnects it (targeted) with its
    saved alias and every container ends running and healthy with its aliases as before.
    The verdict is FAIL, honestly: the streams in flight on us-east at the cut stall until the
    drill's 5 s idle timeout and count as transport failures in the fault window (new requests
    are re-sent to us-west by the router). Recovery may fail too, depending on timing: the cut
    gateway's own provider reads time out (10 s) and open its circuits, and when the router
    fails back before they close, a burst of requests gets 503 provider_unavailable."""
    network = f"{compose_stack.project}_testbed"
    before = docker_status(compose_stack).service("gateway-us-east").networks[network]
    result = run("regional-failover-network.yaml", compose_stack, tmp_path)
    assert result.state == "complete", (result.reason, result.bundle)
    assert result.verdict is Verdict.FAIL, result.bundle
    assert result.bundle is not None
    evidence = json.loads((result.bundle / "evidence.json").read_text("utf-8"))
    verdicts = {c["id"]: c["verdict"] for c in evidence["criteria"]}
    assert verdicts["tier_g.rate_5xx@fault:us-east-disconnected"] == "FAIL", result.bundle
    summary = (result.bundle / "summary.md").read_text("utf-8")
    transport = re.search(r"transport: ([\d,]+)", summary)
    assert transport is not None, result.bundle
    assert int(transport.group(1).replace(",", "")) > 0, result.bundle
    [action] = evidence["faults"][0]["actions"]
    assert action["primitive"] == "docker.disconnect"
    assert action["detail"]["network"] == network
    assert "gateway-us-east" in action["detail"]["aliases"]
    assert action["revert_method"] == "targeted"
    assert served_by(result, "us-west") > 0, result.bundle
    assert_stack_intact(compose_stack)
    after = docker_status(compose_stack).service("gateway-us-east").networks[network]
    assert set(before) <= set(after), (before, after)


def active_region(stack: ComposeStack) -> str:
    url = f"http://127.0.0.1:{stack.host_port('router')}/admin/regions"
    return str(httpx.get(url, timeout=3).json()["active_region"])


def test_network_disconnect_fails_over_and_reconnect_restores_aliases(
        compose_stack: ComposeStack) -> None:
    """Disconnecting the us-east gateway from the stack's network moves traffic to us-west;
    reconnecting with the saved aliases makes `gateway-us-east` resolve again (failback)."""
    name = docker_status(compose_stack).service("gateway-us-east").container
    assert name is not None
    network = f"{compose_stack.project}_testbed"
    runtime = DockerRuntime()

    async def scenario() -> list[str]:
        aliases = await runtime.network_aliases(name, network)
        await runtime.disconnect(name, network)
        try:
            await anyio.to_thread.run_sync(lambda: wait_for(
                lambda: active_region(compose_stack) == "us-west", 30,
                "router failed over to us-west"))
        finally:
            await runtime.connect(name, network, aliases)
        return aliases

    try:
        aliases = anyio.run(scenario)
    finally:
        runtime.close()
    assert "gateway-us-east" in aliases
    wait_for(lambda: active_region(compose_stack) == "us-east", 60, "router failed back to us-east")
    assert_stack_intact(compose_stack)
