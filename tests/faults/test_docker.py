"""Docker primitives against the real engine with a locally built image, observed from
outside (published loopback port, or from inside a second container via the alias)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from pydantic import TypeAdapter

from chaos.faults import Executor, FaultSession, Primitive, Targets
from chaos.spec.faults import Fault
from tests.faults.dockerworld import DockerWorld, docker_world
from tests.faults.envs import environment_yaml, load_env
from tests.servers import ToxiproxyServer, wait_for

pytestmark = pytest.mark.docker


@pytest.fixture
def world(docker_client: Any) -> Iterator[DockerWorld]:
    with docker_world(docker_client) as w:
        yield w


def act(what: str, p: Primitive) -> list[Primitive]:
    async def go() -> list[Primitive]:
        async with Executor(Targets(runtime="docker")) as ex:
            prepared = await ex.prepare(p)
            for q in prepared:
                await (ex.apply(q) if what == "apply" else ex.revert(q))
            return prepared

    result: list[Primitive] = anyio.run(go)
    return result


def status(world: DockerWorld) -> str:
    return str(world.client.api.inspect_container(world.server)["State"]["Status"])


def test_pause_hangs_requests_and_unpause_restores(world: DockerWorld) -> None:
    """Paused: a request over the published port gets no answer (times out, no refusal);
    after the revert it is served again."""
    act("apply", Primitive("docker.pause", world.server))
    assert status(world) == "paused"
    with pytest.raises(httpx.ReadTimeout):
        world.get(timeout_s=0.5)
    act("revert", Primitive("docker.pause", world.server))
    assert world.get().startswith("ok")


@pytest.mark.parametrize("kind", ["docker.kill", "docker.stop"])
def test_kill_and_stop_refuse_connections_and_start_restores(world: DockerWorld, kind: str) -> None:
    """Killed or stopped: the container has exited and its port refuses; the revert starts it
    (its published port may change) and it serves again."""
    params = {"signal": "SIGKILL"} if kind == "docker.kill" else {"timeout_s": 1}
    act("apply", Primitive(kind, world.server, params))  # type: ignore[arg-type]
    assert status(world) == "exited"
    with pytest.raises((httpx.ConnectError, ConnectionRefusedError)):
        world.get(timeout_s=0.5)
    act("revert", Primitive(kind, world.server, params))  # type: ignore[arg-type]
    wait_for(lambda: world.get().startswith("ok"), 10, "server back after start")


def test_disconnect_cuts_the_alias_and_reconnect_restores_it(world: DockerWorld) -> None:
    """Disconnected from the bridge network: the probe container cannot reach `backend`;
    the revert reconnects with the saved alias and `backend` answers again."""
    assert world.probe_alias()[0] == 0
    prepared = act("apply", Primitive("docker.disconnect", world.server))
    assert prepared[0].params["aliases"] == ["backend"]
    code, out = world.probe_alias()
    assert code != 0, out
    for p in prepared:
        act("revert", p)
    code, out = world.probe_alias()
    assert code == 0, out
    assert out.startswith("ok")


FAULTS: TypeAdapter[Any] = TypeAdapter(Fault)


def test_session_redis_loss_pause_on_compose_service_reverts(
        docker_client: Any, toxiproxy: ToxiproxyServer, tmp_path: Path) -> None:
    """redis_loss pause on a docker environment naming a compose service: the labelled
    container is found (list all=True), paused while active, running after the session."""
    labels = {"com.docker.compose.project": "chaosfaults", "com.docker.compose.service": "redis"}
    with docker_world(docker_client, labels=labels) as w:
        text = environment_yaml(toxiproxy.api_url, tmp_path / "unused", runtime="docker",
                                redis_service="{compose_service: redis}")
        env = load_env(text.replace("  kind: docker", "  kind: docker\n  compose_project: chaosfaults"))
        f = FAULTS.validate_python({"id": "rp", "scenario": "redis_loss", "mode": "pause",
                                    "at": "0s", "for": "5s"})

        async def go() -> Any:
            async with FaultSession(env, run_dir=tmp_path / "run", run_id="d1") as session:
                record = await session.apply(f)
                assert status(w) == "paused"
            return session.records()[0], record

        final, applied = anyio.run(go)
        assert [a.target for a in applied.actions] == [w.server]
        assert final.reverted_at is not None
        assert status(w) == "running"
        assert w.get().startswith("ok")
