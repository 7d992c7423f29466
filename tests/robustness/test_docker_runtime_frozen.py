"""A docker-runtime fault (pause) whose container runtime freezes while the fault is applied
(the container's containerd shim SIGSTOPped: the engine takes every call on that container and
never answers): each engine call is bounded, the revert gives up at its deadline with
RevertError naming the action and the command that finishes the job, and `chaos cleanup`
reverts once the runtime is back. The engine itself keeps serving other tests."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest

from chaos.errors import RevertError
from chaos.faults import Executor, FaultSession, Primitive, Targets
from tests.faults.dockerworld import DockerWorld, docker_world
from tests.robustness.commands import chaos, no_traceback

pytestmark = [pytest.mark.docker, pytest.mark.slow]

REVERT_DEADLINE_S = 4.0
CALL_TIMEOUT_S = 2.0


@pytest.fixture
def world(docker_client: Any) -> Iterator[DockerWorld]:
    with docker_world(docker_client) as w:
        yield w


def shim_pid(container_id: str) -> int:
    """The containerd shim that runs `container_id` (its argv has `-id <container id>`)."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if argv and b"containerd-shim" in argv[0] and container_id.encode() in argv:
            return int(entry.name)
    pytest.skip(f"no containerd shim found for container {container_id[:12]}")


def status(world: DockerWorld) -> str:
    return str(world.client.api.inspect_container(world.server)["State"]["Status"])


def test_a_frozen_container_runtime_is_a_bounded_revert_failure_and_cleanup_finishes(
    world: DockerWorld, tmp_path: Path,
) -> None:
    container_id = world.client.api.inspect_container(world.server)["Id"]
    shim = shim_pid(container_id)
    run_dir = tmp_path / "run"
    targets = Targets(runtime="docker")
    errors: list[RevertError] = []
    spent: list[float] = []

    async def go() -> FaultSession:
        session = FaultSession(None, targets=targets, run_dir=run_dir, run_id="frozen-runtime",
                               revert_deadline_s=REVERT_DEADLINE_S, revert_timeout_s=5.0,
                               executor=Executor(targets, verify_timeout_s=5.0,
                                                 docker_call_timeout_s=CALL_TIMEOUT_S))
        frozen_at = 0.0
        try:
            async with session:
                await session.apply_primitives("redis-pause", [Primitive("docker.pause", world.server)],
                                               scenario="redis_loss", mode="pause", target="redis",
                                               duration_s=5.0)
                assert status(world) == "paused"
                os.kill(shim, signal.SIGSTOP)
                frozen_at = time.monotonic()
        except RevertError as exc:
            errors.append(exc)
        finally:
            spent.append(time.monotonic() - frozen_at)
            os.kill(shim, signal.SIGCONT)  # the runtime is back; the engine answers again
        return session

    try:
        session = anyio.run(go)
    finally:
        os.kill(shim, signal.SIGCONT)
    (error,) = errors
    assert spent[0] < 30, f"the revert took {spent[0]:.0f}s with every call bounded"
    (still,) = error.still_applied
    assert (still.fault_id, still.primitive, still.target) == ("redis-pause", "docker.pause", world.server)
    assert "did not answer within" in still.error
    assert error.cleanup == f"chaos cleanup --run {run_dir}"
    assert str(error).startswith(f"fault revert on {world.server}: 1 fault action(s) still applied")
    (record,) = session.records()
    (action,) = record.actions
    assert action.apply_s is not None
    assert action.revert_s is not None
    assert action.revert_s >= REVERT_DEADLINE_S
    assert action.reverted_at is None

    done = chaos("cleanup", "--run", str(run_dir), timeout_s=120)
    no_traceback(done.stdout + done.stderr)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "reverted (targeted) redis-pause: " in done.stdout
    assert status(world) == "running"
    assert world.get().startswith("ok")
