"""Network cuts through real components: region_failover `via: docker_network` on containers
this test creates (real engine), redis_loss `cut: reset` on Redis links through the real
Toxiproxy to a real redis-server. Each effect is observed from outside, then the revert."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import anyio
import pytest
from pydantic import TypeAdapter

from chaos.faults import FaultSession, ToxiproxyClient
from chaos.spec.faults import Fault
from tests.faults.dockerworld import DockerWorld, docker_world
from tests.faults.envs import environment_yaml, load_env, make_proxies
from tests.servers import RedisServer, ToxiproxyServer, wait_for

FAULTS: TypeAdapter[Any] = TypeAdapter(Fault)


def fault(**fields: Any) -> Any:
    return FAULTS.validate_python({"at": "0s", "for": "5s", **fields})


# -- region_failover via docker_network ---------------------------------------------------


def aliases_on(world: DockerWorld, network: str) -> list[str]:
    info = world.client.api.inspect_container(world.server)
    net = info["NetworkSettings"]["Networks"].get(network)
    assert net is not None, f"{world.server} is not on {network}"
    return [a for a in net.get("Aliases") or [] if a != info["Id"][:12]]


def region_env(world: DockerWorld, toxiproxy_api: str, tmp_path: Path,
               redis_container: str = "no-such-redis") -> Any:
    """A docker environment whose region us-east is the test's server container, on the
    test's network (named through `${VAR:-default}`, expanded at resolve time)."""
    text = environment_yaml(toxiproxy_api, tmp_path / "unused", runtime="docker",
                            redis_service=f"{{container: {redis_container}}}",
                            extra_services=f"  gateway-us-east: {{container: {world.server}}}",
                            region_services="[gateway-us-east]")
    text = text.replace("      services: [gateway-us-east]\n",
                        "      services: [gateway-us-east]\n"
                        f'      networks: ["${{CHAOS_TEST_REGION_NET:-{world.network}}}"]\n')
    return load_env(text)


@pytest.mark.docker
def test_region_failover_via_docker_network_cuts_the_container_and_reconnects_its_aliases(
        docker_client: Any, toxiproxy: ToxiproxyServer, tmp_path: Path) -> None:
    """While the fault is active the probe container on the same network cannot reach the
    server by its alias `backend`; after the session the server is back on the network with
    the alias, the probe reaches it again and the published port answers."""
    with docker_world(docker_client) as world:
        env = region_env(world, toxiproxy.api_url, tmp_path)
        assert world.probe_alias()[0] == 0
        before = aliases_on(world, world.network)
        assert "backend" in before
        f = fault(id="east-cut", scenario="region_failover", target="us-east", mode="network",
                  via="docker_network")

        async def go() -> Any:
            async with FaultSession(env, run_dir=tmp_path / "run", run_id="n1") as session:
                record = await session.apply(f)
                info = await anyio.to_thread.run_sync(
                    world.client.api.inspect_container, world.server)
                assert world.network not in info["NetworkSettings"]["Networks"]
                code, out = await anyio.to_thread.run_sync(world.probe_alias)
                assert code != 0, out
                assert info["State"]["Status"] == "running"  # cut off, not stopped
            return record, session.records()[0]

        applied, final = anyio.run(go)
        [action] = applied.actions
        assert (action.primitive, action.target) == ("docker.disconnect", world.server)
        assert final.reverted_at is not None
        assert [a.revert_method for a in final.actions] == ["targeted"]
        assert aliases_on(world, world.network) == before
        code, out = world.probe_alias()
        assert code == 0, out
        assert out.startswith("ok")
        wait_for(lambda: world.get().startswith("ok"), 10, "published port answers again")


@pytest.mark.docker
def test_cleanup_env_reconnects_a_region_container_whose_journal_is_lost(
        docker_client: Any, toxiproxy: ToxiproxyServer, tmp_path: Path) -> None:
    """A partition left behind with no journal: `cleanup_environment` puts the region's
    container back on the region's network, under the name the environment knows it by."""
    from chaos.faults.replay import cleanup_environment

    with docker_world(docker_client) as world:
        env = region_env(world, toxiproxy.api_url, tmp_path, redis_container=world.probe)
        # Cleanup also checks every proxy the environment names exists (a Toxiproxy that lost
        # them is reported, not passed): create them, as a running testbed has them.
        make_proxies(toxiproxy.api_url, "127.0.0.1:9")
        world.client.api.disconnect_container_from_network(world.server, world.network, force=True)
        assert world.network not in world.client.api.inspect_container(
            world.server)["NetworkSettings"]["Networks"]
        done = anyio.run(cleanup_environment, env)
        assert f"reconnected container {world.server} to {world.network} (alias {world.server})" in done
        assert world.server in aliases_on(world, world.network)
        assert anyio.run(cleanup_environment, env) == []  # nothing left to do


# -- redis_loss cut: reset ----------------------------------------------------------------


def ping(sock: socket.socket) -> str:
    """PING on an open connection: 'pong', 'reset' (RST) or 'closed' (EOF)."""
    try:
        sock.sendall(b"PING\r\n")
        data = sock.recv(64)
    except ConnectionResetError:
        return "reset"
    if not data:
        return "closed"
    return "pong" if data.startswith(b"+PONG") else f"answer {data!r}"


def ping_new(port: int) -> str:
    with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
        return ping(sock)


async def toxics(api: str) -> dict[str, list[str]]:
    async with ToxiproxyClient(api) as tp:
        return {n: sorted(t.name for t in p.toxics) for n, p in (await tp.proxies()).items()}


def test_redis_cut_reset_resets_connections_on_every_redis_link_and_revert_restores(
        redis_server: RedisServer, toxiproxy: ToxiproxyServer, tmp_path: Path) -> None:
    """cut: reset: a connection opened before the fault and new ones on both Redis links are
    reset on their next command while redis-server itself keeps answering; after the session
    the toxics are gone and PING through both links answers PONG."""
    ports = make_proxies(toxiproxy.api_url, f"127.0.0.1:{redis_server.port}")
    env = load_env(environment_yaml(toxiproxy.api_url, tmp_path / "state.json"))
    east, west = ports["us-east-redis"], ports["us-west-redis"]
    early = socket.create_connection(("127.0.0.1", east), timeout=2)
    try:
        assert ping(early) == "pong"
        f = fault(id="rr", scenario="redis_loss", mode="network", cut="reset")

        async def go() -> None:
            async with FaultSession(env, run_dir=tmp_path / "run", run_id="n2") as session:
                await session.apply(f)
                state = await toxics(toxiproxy.api_url)
                for proxy in ("us-east-redis", "us-west-redis"):
                    assert state[proxy] == ["chaos_rr_reset_peer_downstream",
                                            "chaos_rr_reset_peer_upstream"]
                assert state["us-east-primary"] == []
                assert await anyio.to_thread.run_sync(ping, early) in ("reset", "closed")
                for port in (east, west):
                    assert await anyio.to_thread.run_sync(ping_new, port) in ("reset", "closed")
                direct = await anyio.to_thread.run_sync(ping_new, redis_server.port)
                assert direct == "pong"  # the link is cut, not Redis

        anyio.run(go)
    finally:
        early.close()
    assert all(not names for names in anyio.run(toxics, toxiproxy.api_url).values())
    assert ping_new(east) == "pong"
    assert ping_new(west) == "pong"
