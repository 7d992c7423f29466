"""One drill per environment: the lock held by a real process refuses others and names its
holder; once that process is killed, the next drill takes the stale lock over."""

from __future__ import annotations

import getpass
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from chaos.control import EnvironmentLocked, acquire_lock, read_holder
from chaos.errors import ExitCode
from tests.servers import wait_for

ROOT = Path(__file__).resolve().parents[2]
HOLD_LOCK = """
import sys, time
from pathlib import Path
from chaos.control import acquire_lock
acquire_lock(sys.argv[1], "/runs/other-drill", Path(sys.argv[2]))
print("held", flush=True)
time.sleep(600)
"""


@pytest.fixture
def holder(tmp_path: Path) -> Iterator[subprocess.Popen[str]]:
    """A child process holding the lock of environment `local` in tmp_path/locks."""
    proc = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, "local", str(tmp_path / "locks")],
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "held"
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=10)
        if proc.stdout is not None:
            proc.stdout.close()


def test_a_held_lock_refuses_a_second_drill_naming_its_holder(
        holder: subprocess.Popen[str], tmp_path: Path) -> None:
    with pytest.raises(EnvironmentLocked) as refused:
        acquire_lock("local", tmp_path / "runs", tmp_path / "locks")
    text = str(refused.value)
    assert f"{getpass.getuser()}@{socket.gethostname()} pid {holder.pid}" in text, text
    assert "/runs/other-drill" in text
    assert "since" in text
    assert refused.value.exit_code == ExitCode.INFRASTRUCTURE


def test_the_lock_of_a_killed_process_is_taken_over(holder: subprocess.Popen[str], tmp_path: Path) -> None:
    holder.send_signal(signal.SIGKILL)
    holder.wait(timeout=10)
    lock = acquire_lock("local", tmp_path / "runs", tmp_path / "locks")
    try:
        assert lock.took_over is not None
        assert lock.took_over.pid == holder.pid
        mine = read_holder("local", tmp_path / "locks")
        assert mine is not None
        assert mine.pid == os.getpid()
        with pytest.raises(EnvironmentLocked):  # and it is ours now: the next one is refused
            acquire_lock("local", tmp_path / "runs", tmp_path / "locks")
    finally:
        lock.release()
    assert read_holder("local", tmp_path / "locks") is None
    acquire_lock("local", tmp_path / "runs", tmp_path / "locks").release()  # free again


def _chaos(*args: str, control_dir: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "chaos", *args], capture_output=True, text=True,
                          timeout=120, env=os.environ | {"CHAOS_CONTROL_DIR": str(control_dir),
                                                         "NO_COLOR": "1"})


def test_chaos_run_on_a_locked_environment_exits_4_with_one_line(
        holder: subprocess.Popen[str], tmp_path: Path) -> None:
    """Refused before anything starts: no bundle, no traffic (the target is not even up)."""
    result = _chaos("run", str(ROOT / "experiments" / "provider-outage-down.yaml"),
                    "--env", str(ROOT / "environments" / "local.yaml"),
                    "--evidence-dir", str(tmp_path / "runs"), control_dir=tmp_path / "locks")
    assert result.returncode == ExitCode.INFRASTRUCTURE, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert "locked by another drill" in lines[0], lines[0]
    assert f"pid {holder.pid}" in lines[0], lines[0]
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


def _env_with_switch(tmp_path: Path, switch: dict[str, str]) -> Path:
    env = yaml.safe_load((ROOT / "environments" / "local.yaml").read_text("utf-8"))
    env["guardrails"]["kill_switch"] = switch
    path = tmp_path / "env.yaml"
    path.write_text(yaml.safe_dump(env, sort_keys=False), "utf-8")
    return path


def test_a_set_file_kill_switch_refuses_new_drills_until_cleared(tmp_path: Path) -> None:
    switch = tmp_path / "STOP"
    env = _env_with_switch(tmp_path, {"file": str(switch)})
    switch.write_text("incident 4711: provider degraded\n")
    run = ("run", str(ROOT / "experiments" / "provider-outage-down.yaml"), "--env", str(env),
           "--evidence-dir", str(tmp_path / "runs"))
    result = _chaos(*run, control_dir=tmp_path / "locks")
    assert result.returncode == ExitCode.INFRASTRUCTURE, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert f"kill switch file {switch} is set" in lines[0], lines[0]
    assert "incident 4711" in lines[0], lines[0]
    cleared = _chaos("abort", "--env", str(env), "--clear", control_dir=tmp_path / "locks")
    assert cleared.returncode == 0, cleared.stderr
    assert not switch.exists()
    wait_for(lambda: read_holder("local", tmp_path / "locks") is None, 5, "the refused run's lock released")


def test_abort_and_resume_without_a_running_drill_say_so(tmp_path: Path) -> None:
    for command in ("abort", "resume"):
        result = _chaos(command, "--env", "local", control_dir=tmp_path / "locks")
        assert result.returncode == ExitCode.INFRASTRUCTURE
        assert "no drill is" in result.stderr
        assert "local" in result.stderr
