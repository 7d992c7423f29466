"""Replaying a journal (as the watchdog and `chaos cleanup --run` do) and cleaning a whole
environment (`chaos cleanup --env`), against the real Toxiproxy."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import anyio
import pytest

from chaos.errors import FaultError
from chaos.faults import (
    JOURNAL_NAME,
    Executor,
    Journal,
    Latency,
    Primitive,
    Targets,
    ToxiproxyClient,
    read_journal,
    replay_journal,
)
from chaos.testbed.state import terminate
from tests.faults.envs import environment_yaml, make_proxies, redis_ping, spawn_redis
from tests.servers import ToxiproxyServer

ROOT = Path(__file__).resolve().parents[2]


def crashed_run(api: str, run_dir: Path) -> None:
    """What a killed runner leaves: journalled and applied primitives, no revert lines."""
    async def go() -> None:
        targets = Targets(toxiproxy_api=api)
        journal = Journal.create(run_dir / JOURNAL_NAME, run_id="crashed", targets=targets)
        async with Executor(targets) as ex:
            for p in (Primitive("toxiproxy.disable", "router-us-east"),
                      Primitive("toxiproxy.toxic", "us-east-redis",
                                {"name": "chaos_x_latency", "type": "latency",
                                 "stream": "downstream", "toxicity": 1.0,
                                 "attributes": {"latency": 500, "jitter": 0}})):
                journal.intend("f", p)
                await ex.apply(p)
        journal.close()

    anyio.run(go)


async def state(api: str) -> dict[str, tuple[bool, list[str]]]:
    async with ToxiproxyClient(api) as tp:
        return {n: (p.enabled, [t.name for t in p.toxics]) for n, p in (await tp.proxies()).items()}


def clean(api: str) -> bool:
    return all(enabled and not toxics for enabled, toxics in anyio.run(state, api).values())


def test_replay_reverts_open_entries_once(toxiproxy: ToxiproxyServer, tmp_path: Path) -> None:
    """replay_journal undoes every applied-but-not-reverted primitive, journals the reverts,
    and a second replay finds nothing open."""
    make_proxies(toxiproxy.api_url, "127.0.0.1:9")
    crashed_run(toxiproxy.api_url, tmp_path)
    assert not clean(toxiproxy.api_url)
    done = anyio.run(replay_journal, tmp_path)
    assert len(done) == 2
    assert "chaos_x_latency" in done[0]  # reverse order: the toxic first
    assert clean(toxiproxy.api_url)
    assert anyio.run(replay_journal, tmp_path / JOURNAL_NAME) == []
    _, run_id, entries = read_journal(tmp_path / JOURNAL_NAME)
    assert run_id == "crashed"
    assert [e["type"] for e in entries].count("reverted") == 2


def test_torn_last_line_is_ignored_and_garbage_is_an_error(toxiproxy: ToxiproxyServer,
                                                           tmp_path: Path) -> None:
    """A crash mid-write leaves a torn last line (ignored); a bad line in the middle is a
    one-line FaultError naming file and line."""
    make_proxies(toxiproxy.api_url, "127.0.0.1:9")
    crashed_run(toxiproxy.api_url, tmp_path)
    path = tmp_path / JOURNAL_NAME
    with path.open("a") as fh:
        fh.write('{"type": "reverted", "se')
    anyio.run(replay_journal, tmp_path)
    assert clean(toxiproxy.api_url)
    lines = path.read_text().splitlines()
    path.write_text("\n".join([lines[0], "not json", *lines[1:]]) + "\n")
    with pytest.raises(FaultError, match=r"faults.journal.jsonl:2"):
        read_journal(path)


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "chaos", "cleanup", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})


def test_cli_cleanup_run_replays_the_journal(toxiproxy: ToxiproxyServer, tmp_path: Path) -> None:
    """`chaos cleanup --run DIR` reverts what a killed run left and says what it did."""
    make_proxies(toxiproxy.api_url, "127.0.0.1:9")
    crashed_run(toxiproxy.api_url, tmp_path)
    result = run_cli("--run", str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert "cleanup done: 2 action(s)" in result.stdout
    assert clean(toxiproxy.api_url)


def test_cli_cleanup_env_removes_framework_toxics_enables_proxies_resumes_processes(
        toxiproxy: ToxiproxyServer, tmp_path: Path) -> None:
    """`chaos cleanup --env` removes every `chaos_` toxic, enables the topology's proxies and
    resumes a stopped (SIGSTOP) service process, leaving an operator's own toxic alone."""
    make_proxies(toxiproxy.api_url, "127.0.0.1:9")
    redis = spawn_redis(tmp_path / "state.json")
    os.kill(redis.pid, signal.SIGSTOP)

    async def dirty() -> None:
        async with ToxiproxyClient(toxiproxy.api_url) as tp:
            await tp.add_toxic("us-east-primary", "chaos_left_behind", Latency(100))
            await tp.add_toxic("us-east-primary", "operator_own", Latency(5))
            await tp.disable("router-us-west")

    anyio.run(dirty)
    env_file = tmp_path / "env.yaml"
    env_file.write_text(environment_yaml(toxiproxy.api_url, tmp_path / "state.json"))
    try:
        result = run_cli("--env", str(env_file))
        assert result.returncode == 0, result.stderr
        after = anyio.run(state, toxiproxy.api_url)
        assert after["us-east-primary"][1] == ["operator_own"]
        assert after["router-us-west"][0] is True
        assert f"resumed process redis (pid {redis.pid})" in result.stdout
        assert redis_ping(redis.port, 1.0)
    finally:
        terminate(redis.pid, redis.argv)


def test_cli_cleanup_without_arguments_is_a_usage_error() -> None:
    """No --run and no --env: exit 2 with a one-line message."""
    result = run_cli()
    assert result.returncode == 2
    assert "give --run DIR and/or --env ENV" in result.stderr


def test_journal_lines_are_json_with_the_undo(tmp_path: Path) -> None:
    """Each apply line carries the full primitive (its undo data) and a timestamp."""
    journal = Journal.create(tmp_path / JOURNAL_NAME, run_id="r", targets=Targets(toxiproxy_api="http://x"))
    journal.intend("f", Primitive("docker.disconnect", "c1", {"network": "n", "aliases": ["a"]}))
    journal.close()
    lines = [json.loads(x) for x in (tmp_path / JOURNAL_NAME).read_text().splitlines()]
    assert lines[0]["targets"]["toxiproxy_api"] == "http://x"
    assert lines[1]["primitive"] == {"kind": "docker.disconnect", "target": "c1",
                                     "params": {"network": "n", "aliases": ["a"]}}
    assert isinstance(lines[1]["t"], float)
