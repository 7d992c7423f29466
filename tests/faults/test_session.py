"""FaultSession against the real Toxiproxy and real processes: write-ahead journal, verified
apply, revert on every exit path, broad fallback, and the process runtime."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from pydantic import TypeAdapter

from chaos.errors import FaultError
from chaos.faults import (
    JOURNAL_NAME,
    Executor,
    FaultSession,
    Primitive,
    ToxiproxyClient,
)
from chaos.spec.environment import Environment
from chaos.spec.faults import Fault
from chaos.testbed.state import load_state, terminate
from tests.faults.envs import environment_yaml, load_env, make_proxies, redis_ping, spawn_redis
from tests.faults.upstream import Upstream, fetch, upstream
from tests.servers import ToxiproxyServer

FAULTS: TypeAdapter[Any] = TypeAdapter(Fault)


def fault(**fields: Any) -> Any:
    return FAULTS.validate_python({"at": "0s", "for": "5s", **fields})


@pytest.fixture
def world(toxiproxy: ToxiproxyServer, tmp_path: Path) -> Iterator[tuple[Environment, dict[str, int], Upstream]]:
    with upstream() as up:
        ports = make_proxies(toxiproxy.api_url, up.address)
        env = load_env(environment_yaml(toxiproxy.api_url, tmp_path / "state.json"))
        yield env, ports, up


async def proxy_state(api: str) -> dict[str, tuple[bool, list[str]]]:
    async with ToxiproxyClient(api) as tp:
        return {n: (p.enabled, [t.name for t in p.toxics]) for n, p in (await tp.proxies()).items()}


def test_apply_journals_before_acting_and_exit_reverts(world: Any, tmp_path: Path) -> None:
    """provider_outage latency: the journal's apply lines precede the effect, the record has
    applied_at/reverted_at, the toxic works while active and is gone after the context."""
    env, ports, _ = world
    api = env.toxiproxy.api
    lat = fault(id="slow-primary", scenario="provider_outage", target="primary", mode="latency",
                latency="300ms")

    async def go() -> Any:
        async with FaultSession(env, run_dir=tmp_path / "run", run_id="r1") as session:
            record = await session.apply(lat)
            first, _ = await anyio.to_thread.run_sync(fetch, ports["us-east-primary"])
            assert first >= 0.29
            state = await proxy_state(api)
            assert state["us-west-primary"][1] == ["chaos_slow-primary_latency_downstream"]
            assert session.statistics().primitives_active == 2
        return record, session

    record, session = anyio.run(go)
    assert record.applied_at is not None
    assert [a.primitive for a in record.actions] == ["toxiproxy.toxic"] * 2
    final = session.records()[0]
    assert final.reverted_at is not None
    assert all(a.revert_method == "targeted" for a in final.actions)
    assert all(not toxics for _, toxics in anyio.run(proxy_state, api).values())
    lines = [json.loads(x) for x in (tmp_path / "run" / JOURNAL_NAME).read_text().splitlines()]
    kinds = [x["type"] for x in lines]
    assert kinds == ["header", "apply", "applied", "apply", "applied", "reverted", "reverted",
                     "closed"]
    assert session.statistics().reverted_targeted == 2


def test_exception_inside_the_session_still_reverts(world: Any, tmp_path: Path) -> None:
    """An exception leaving the context re-enables the proxies a `down` fault disabled."""
    env, ports, _ = world
    down = fault(id="d", scenario="provider_outage", target="primary", mode="down",
                 regions=["us-east"])

    async def go() -> None:
        async with FaultSession(env, run_dir=tmp_path / "run", run_id="r2") as session:
            await session.apply(down)
            state = await proxy_state(env.toxiproxy.api)
            assert state["us-east-primary"][0] is False
            assert state["us-west-primary"][0] is True  # only the listed region
            raise RuntimeError("drill blew up")

    with pytest.raises(RuntimeError, match="drill blew up"):
        anyio.run(go)
    assert all(enabled for enabled, _ in anyio.run(proxy_state, env.toxiproxy.api).values())
    assert fetch(ports["us-east-primary"])[1] < 1.0


def test_cancellation_reverts_every_active_fault_in_reverse_order(world: Any, tmp_path: Path) -> None:
    """Cancelling the run's scope while two faults are active reverts both, newest first."""
    env, _, _ = world
    f1 = fault(id="net", scenario="region_failover", target="us-east", mode="network")
    f2 = fault(id="redis-net", scenario="redis_loss", mode="network")
    sessions: list[FaultSession] = []

    async def go() -> None:
        with anyio.move_on_after(5) as scope:
            async with FaultSession(env, run_dir=tmp_path / "run", run_id="r3") as session:
                sessions.append(session)
                await session.apply(f1)
                await session.apply(f2)
                scope.cancel()
                await anyio.sleep(10)
        assert scope.cancelled_caught

    anyio.run(go)
    assert all(enabled for enabled, _ in anyio.run(proxy_state, env.toxiproxy.api).values())
    lines = [json.loads(x) for x in (tmp_path / "run" / JOURNAL_NAME).read_text().splitlines()]
    reverted = [x["seq"] for x in lines if x["type"] == "reverted"]
    assert reverted == [3, 2, 1]  # redis proxies (seq 2, 3) before the region proxy (seq 1)
    assert all(r.reverted_at is not None for r in sessions[0].records())


class _SlowVerify(Executor):
    """The real executor, whose verification of the second primitive never finishes in time."""

    calls = 0

    async def apply(self, p: Primitive) -> None:
        await super().apply(p)
        type(self).calls += 1
        if type(self).calls == 2:
            await anyio.sleep(30)


def test_cancellation_mid_apply_reverts_and_records_the_interruption(
    world: Any, tmp_path: Path
) -> None:
    """Cancelled while the second primitive is being verified: both effects are reverted and
    the record says the apply was interrupted, with no `applied_at` it never reached."""
    env, _, _ = world
    redis_net = fault(id="redis-net", scenario="redis_loss", mode="network")
    sessions: list[FaultSession] = []

    async def go() -> None:
        with anyio.move_on_after(1.5) as scope:
            async with FaultSession(env, run_dir=tmp_path / "run", run_id="r5",
                                    executor=_SlowVerify(FaultSession.targets_of(env))) as session:
                sessions.append(session)
                await session.apply(redis_net)
        assert scope.cancelled_caught

    anyio.run(go)
    assert all(enabled for enabled, _ in anyio.run(proxy_state, env.toxiproxy.api).values())
    (record,) = sessions[0].records()
    assert record.applied_at is None
    assert record.reverted_at is not None
    assert record.error == "interrupted while applying (1 of 2 primitives verified)"


class _TargetedRevertFails(Executor):
    """The real executor whose targeted revert is refused, to exercise the broad fallback."""

    async def revert(self, p: Primitive) -> None:
        raise FaultError(p.target, "revert", "refused for the test")


def test_failing_targeted_revert_falls_back_to_broad_reset(world: Any, tmp_path: Path) -> None:
    """When the targeted undo keeps failing, POST /reset restores the proxy and the action
    records revert_method='broad'."""
    env, _, _ = world
    down = fault(id="d", scenario="region_failover", target="us-east", mode="network")

    async def go() -> FaultSession:
        session = FaultSession(env, run_dir=tmp_path / "run", run_id="r4", revert_attempts=2,
                               executor=_TargetedRevertFails(FaultSession.targets_of(env)))
        async with session:
            await session.apply(down)
        return session

    session = anyio.run(go)
    assert anyio.run(proxy_state, env.toxiproxy.api)["router-us-east"][0] is True
    assert [a.revert_method for a in session.records()[0].actions] == ["broad"]
    assert session.statistics().reverted_broad == 1


def test_unknown_proxy_fails_apply_with_context_and_leaves_nothing(world: Any, tmp_path: Path,
                                                                    toxiproxy: ToxiproxyServer) -> None:
    """A fault whose second proxy is missing raises FaultError naming it; the first proxy is
    reverted at once."""
    env, _, _ = world
    anyio.run(_delete_proxy, toxiproxy.api_url, "us-west-redis")
    f = fault(id="rn", scenario="redis_loss", mode="network")

    async def go() -> None:
        async with FaultSession(env, run_dir=tmp_path / "run", run_id="r5") as session:
            await session.apply(f)

    with pytest.raises(FaultError, match="us-west-redis"):
        anyio.run(go)
    assert anyio.run(proxy_state, env.toxiproxy.api)["us-east-redis"][0] is True


async def _delete_proxy(api: str, name: str) -> None:
    async with ToxiproxyClient(api) as tp:
        await tp.delete_proxy(name)


@pytest.fixture
def redis_component(tmp_path: Path, toxiproxy: ToxiproxyServer) -> Iterator[tuple[Environment, Path]]:
    state_file = tmp_path / "state.json"
    spawn_redis(state_file)
    env = load_env(environment_yaml(toxiproxy.api_url, state_file))
    yield env, state_file
    comp = load_state(state_file).components["redis"]
    terminate(comp.pid, comp.argv)


def test_redis_kill_refuses_connections_and_revert_restarts_it(redis_component: Any,
                                                               tmp_path: Path) -> None:
    """redis_loss kill (process runtime): the port refuses while active; the revert restarts
    redis through the testbed launcher (new pid) and it answers PING."""
    env, state_file = redis_component
    before = load_state(state_file).components["redis"]

    async def go() -> None:
        async with FaultSession(env, run_dir=tmp_path / "run", run_id="r6") as session:
            await session.apply(fault(id="k", scenario="redis_loss", mode="kill"))
            assert not redis_ping(before.port, 0.3)

    anyio.run(go)
    after = load_state(state_file).components["redis"]
    assert after.pid != before.pid
    assert redis_ping(after.port, 1.0)


def test_redis_pause_hangs_requests_and_revert_resumes(redis_component: Any, tmp_path: Path) -> None:
    """redis_loss pause (process runtime): SIGSTOP makes PING hang (state T); SIGCONT on revert
    and the same pid answers again."""
    env, state_file = redis_component
    comp = load_state(state_file).components["redis"]

    async def go() -> None:
        async with FaultSession(env, run_dir=tmp_path / "run", run_id="r7") as session:
            await session.apply(fault(id="p", scenario="redis_loss", mode="pause"))
            assert not redis_ping(comp.port, 0.3)

    anyio.run(go)
    assert redis_ping(comp.port, 1.0)
    assert load_state(state_file).components["redis"].pid == comp.pid
