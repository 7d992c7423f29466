"""Interruption: real drill subprocesses signalled at random instants while faults are active
leave nothing behind (SIGINT/SIGTERM: the session's shielded revert; SIGKILL: the watchdog)."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import anyio
import pytest

from chaos.faults import ProxyConfig, ToxiproxyClient
from tests.servers import ToxiproxyServer, wait_for

ROOT = Path(__file__).resolve().parents[2]


async def _make(api: str) -> None:
    async with ToxiproxyClient(api) as tp:
        await tp.populate([ProxyConfig("a", "127.0.0.1:0", "127.0.0.1:9"),
                           ProxyConfig("b", "127.0.0.1:0", "127.0.0.1:9")])


async def _leftovers(api: str) -> list[str]:
    async with ToxiproxyClient(api) as tp:
        proxies = await tp.proxies()
    left = [f"{n} disabled" for n, p in proxies.items() if not p.enabled]
    left += [f"{n} toxic {t.name}" for n, p in proxies.items() for t in p.toxics]
    return left


def leftovers(api: str) -> list[str]:
    result: list[str] = anyio.run(_leftovers, api)
    return result


@pytest.fixture
def proxies(toxiproxy: ToxiproxyServer) -> str:
    anyio.run(_make, toxiproxy.api_url)
    return toxiproxy.api_url


def start_child(api: str, run_dir: Path, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.faults.drill_child", api, str(run_dir), *extra],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)})


def wait_line(child: subprocess.Popen[str], wanted: str, timeout_s: float = 20.0) -> None:
    assert child.stdout is not None
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        line = child.stdout.readline()
        if line.strip() == wanted:
            return
        if not line and child.poll() is not None:
            raise AssertionError(f"child exited {child.returncode}: {child.stderr.read() if child.stderr else ''}")
    raise AssertionError(f"no {wanted!r} from the child within {timeout_s}s")


def signal_at_random_instant(child: subprocess.Popen[str], sig: signal.Signals,
                             rng: random.Random) -> None:
    """Wait for `applying`, then signal after 0-400 ms: some land mid-apply, most after."""
    wait_line(child, "applying")
    time.sleep(rng.uniform(0.0, 0.4))  # the random instant itself, not a wait for state
    child.send_signal(sig)


@pytest.mark.slow
def test_sigint_sigterm_at_random_instants_leave_nothing_behind(proxies: str, tmp_path: Path) -> None:
    """20 drill subprocesses get SIGINT or SIGTERM at random instants while faults are active;
    after each exits, Toxiproxy has no toxics and every proxy is enabled."""
    rng = random.Random(4)
    for i in range(20):
        sig = signal.SIGINT if i % 2 == 0 else signal.SIGTERM
        child = start_child(proxies, tmp_path / f"run{i}")
        try:
            signal_at_random_instant(child, sig, rng)
            code = child.wait(timeout=60)
        finally:
            if child.poll() is None:
                child.kill()
                child.wait()
            child.communicate()
        assert code == 130, f"run {i} ({sig.name}) exited {code}"
        assert leftovers(proxies) == [], f"run {i} ({sig.name}) left faults behind"


@pytest.mark.slow
def test_sigkill_watchdog_restores_within_10s(proxies: str, tmp_path: Path) -> None:
    """8 drill subprocesses are SIGKILLed at random instants while faults are active; each
    time the watchdog replays the journal and everything is restored within 10 s."""
    rng = random.Random(9)
    for i in range(8):
        child = start_child(proxies, tmp_path / f"run{i}")
        try:
            signal_at_random_instant(child, signal.SIGKILL, rng)
            child.wait(timeout=30)
            killed_at = time.monotonic()
            wait_for(lambda: leftovers(proxies) == [], 10, f"watchdog restore of run {i}")
        finally:
            child.communicate()
        assert time.monotonic() - killed_at < 10
        log = tmp_path / f"run{i}" / "watchdog.log"
        wait_for(lambda log=log: "replay done: " in log.read_text(), 10, f"watchdog log of run {i}")


@pytest.mark.slow
@pytest.mark.docker
def test_interrupted_drills_leave_no_container_paused(proxies: str, tmp_path: Path,
                                                      docker_client: Any) -> None:
    """Drills that also pause a real container, interrupted by SIGINT, SIGTERM and SIGKILL
    (twice): afterwards the container runs and serves, and Toxiproxy is clean."""
    from tests.faults.dockerworld import docker_world

    rng = random.Random(21)
    with docker_world(docker_client) as world:
        for i, sig in enumerate((signal.SIGINT, signal.SIGTERM, signal.SIGKILL, signal.SIGKILL)):
            child = start_child(proxies, tmp_path / f"run{i}", "--container", world.server)
            try:
                signal_at_random_instant(child, sig, rng)
                child.wait(timeout=60)
            finally:
                child.communicate()

            def restored() -> bool:
                state = docker_client.api.inspect_container(world.server)["State"]["Status"]
                return state == "running" and leftovers(proxies) == []

            wait_for(restored, 10, f"run {i} ({sig.name}) restored")
            assert world.get().startswith("ok")
