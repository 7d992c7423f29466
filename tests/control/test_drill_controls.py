"""Game-day controls on a real short drill (`chaos run` as a subprocess on the embedded
testbed): a hold resumed by `chaos resume` from another process, then `chaos abort` from
another process; and a hold that times out. Each ends aborted with every fault reverted."""

from __future__ import annotations

import getpass
import json
import os
import pty
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from chaos.control import read_hold, read_holder
from chaos.errors import ExitCode
from chaos.report.reader import read_inputs_and_events, read_raw
from chaos.spec import load_environment
from tests.e2e.helpers import EXPERIMENTS, MAX_DRIVER_LAG_MS, _router_requests, proxies_clean
from tests.e2e.test_interruption import bundle_of, primary_cut
from tests.servers import wait_for
from tests.testbed_fixture import RunningTestbed

pytestmark = pytest.mark.slow

# provider-outage-down at --time-scale 0.1: 30 s of load, the primary links cut at 6 s for 9 s.
DRILL = EXPERIMENTS / "provider-outage-down.yaml"


def _env() -> dict[str, str]:
    return os.environ | {"NO_COLOR": "1"}  # CHAOS_CONTROL_DIR: the session's (tests/conftest.py)


def start_run(tb: RunningTestbed, tmp_path: Path, *extra: str) -> subprocess.Popen[bytes]:
    argv = [sys.executable, "-m", "chaos", "run", str(DRILL), "--env", str(tb.env_path),
            "--time-scale", "0.1", "--load-scale", "0.1", "--evidence-dir", str(tmp_path / "runs"),
            "--max-driver-lag-ms", str(MAX_DRIVER_LAG_MS), "--no-live", *extra]
    with (tmp_path / "chaos-run.out").open("wb") as out:
        return subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                env=_env())


def chaos(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "chaos", *args], capture_output=True, text=True,
                          timeout=60, env=_env())


def finish(proc: subprocess.Popen[bytes], tmp_path: Path) -> str:
    try:
        proc.wait(timeout=90)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return (tmp_path / "chaos-run.out").read_text()


def events(bundle: Path) -> list[dict[str, Any]]:
    return [dict(e) for e in read_inputs_and_events(bundle)[1]]


def test_a_hold_resumed_from_another_process_then_chaos_abort_stops_the_drill(
        testbed: RunningTestbed, tmp_path: Path) -> None:
    name = load_environment(testbed.env_path).name
    proc = start_run(testbed, tmp_path, "--hold-all")
    try:
        wait_for(lambda: read_hold(name) is not None, 90, "the drill holding before its fault")
        before = _router_requests(testbed)
        wait_for(lambda: _router_requests(testbed) > before + 5, 10, "the load running during the hold")
        assert not primary_cut(testbed)  # held: the fault is not applied yet
        (tmp_path / "second").mkdir()
        second = start_run(testbed, tmp_path / "second")
        assert second.wait(timeout=60) == ExitCode.INFRASTRUCTURE  # one drill per environment
        assert "locked by another drill" in (tmp_path / "second" / "chaos-run.out").read_text()
        resumed = chaos("resume", "--env", str(testbed.env_path))
        assert resumed.returncode == 0, resumed.stderr
        wait_for(lambda: primary_cut(testbed), 30, "the fault applied once resumed")
        aborted = chaos("abort", "--env", name, "--reason", "on-call says stop")
        assert aborted.returncode == 0, aborted.stderr
        output = finish(proc, tmp_path)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == ExitCode.FAIL, output  # aborted, as by an abort condition
    assert proxies_clean(testbed)  # the fault reverted
    assert read_holder(name) is None  # the lock released
    bundle = bundle_of(tmp_path / "runs")
    raw = read_raw(bundle)
    assert raw.state == "aborted", raw.state
    run = json.loads((bundle / "run.json").read_text())
    me = f"{getpass.getuser()}@{socket.gethostname()}"
    assert f"abort requested by {me}" in run["aborted"], run
    assert "on-call says stop" in run["aborted"], run
    kinds = {e["kind"]: e for e in events(bundle)}
    assert "hold" in kinds
    assert kinds["hold"]["fault_id"] == "primary-down"
    assert kinds["resumed"]["user"] == getpass.getuser()
    assert kinds["resumed"]["host"] == socket.gethostname()
    assert kinds["resumed"]["via"] == "chaos resume"
    assert kinds["resumed"]["at"] > 0
    assert kinds["abort_requested"]["reason"] == "on-call says stop"
    assert kinds["hold_shift"]["late_s"] > 0  # the fault ran late, and the evidence says so
    assert kinds["hold_shift"]["judged_shifted"] is True
    fault = raw.recording.faults[0]
    judged = next(p for p in raw.recording.phases if p.kind == "fault")
    assert fault.applied_at is not None
    assert abs(judged.start - fault.applied_at) < 1.0, (judged, fault)  # judged from its real start
    assert fault.applied_at is not None
    assert fault.reverted_at is not None


def test_a_hold_not_resumed_in_time_aborts_without_applying_the_fault(
        testbed: RunningTestbed, tmp_path: Path) -> None:
    proc = start_run(testbed, tmp_path, "--hold-all", "--hold-timeout", "3s")
    output = finish(proc, tmp_path)
    assert proc.returncode == ExitCode.FAIL, output
    assert proxies_clean(testbed)
    bundle = bundle_of(tmp_path / "runs")
    raw = read_raw(bundle)
    assert raw.state == "aborted"
    run = json.loads((bundle / "run.json").read_text())
    assert "hold before fault primary-down timed out after 3s" in run["aborted"], run
    assert "hold_timeout" in {e["kind"] for e in events(bundle)}
    assert all(f.applied_at is None for f in raw.recording.faults)
    assert "HOLD" in output


def test_enter_on_a_terminal_resumes_and_a_file_kill_switch_set_mid_fault_aborts(
        testbed: RunningTestbed, tmp_path: Path) -> None:
    switch = tmp_path / "STOP"
    env = yaml.safe_load(testbed.env_path.read_text("utf-8"))
    env.setdefault("guardrails", {})["kill_switch"] = {"file": str(switch)}
    env_path = tmp_path / "env.yaml"
    env_path.write_text(yaml.safe_dump(env, sort_keys=False), "utf-8")
    name = env["name"]
    master, slave = pty.openpty()  # the drill's stdin is a terminal: Enter resumes
    argv = [sys.executable, "-m", "chaos", "run", str(DRILL), "--env", str(env_path),
            "--time-scale", "0.1", "--load-scale", "0.1", "--evidence-dir", str(tmp_path / "runs"),
            "--max-driver-lag-ms", str(MAX_DRIVER_LAG_MS), "--no-live", "--hold-all"]
    try:
        with (tmp_path / "chaos-run.out").open("wb") as out:
            proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, stdin=slave, env=_env())
        try:
            wait_for(lambda: read_hold(name) is not None, 90, "the drill holding before its fault")
            os.write(master, b"\n")
            wait_for(lambda: primary_cut(testbed), 30, "the fault applied after Enter")
            switch.write_text("incident 99\n")
            output = finish(proc, tmp_path)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    finally:
        os.close(master)
        os.close(slave)
    assert proc.returncode == ExitCode.FAIL, output
    assert proxies_clean(testbed)
    bundle = bundle_of(tmp_path / "runs")
    assert read_raw(bundle).state == "aborted"
    run = json.loads((bundle / "run.json").read_text())
    assert f"kill switch file {switch} is set (incident 99)" in run["aborted"], run
    kinds = {e["kind"]: e for e in events(bundle)}
    assert kinds["resumed"]["via"] == "Enter"
    assert "kill_switch" in kinds
