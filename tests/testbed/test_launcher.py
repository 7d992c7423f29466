"""`chaos testbed up|status|down` as a user runs them: real processes, no orphans."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from chaos.testbed import load_state
from chaos.testbed.state import pid_alive
from tests.servers import wait_for
from tests.testbed_fixture import free_port_config

CLI = [sys.executable, "-m", "chaos"]


def _write_config(tmp_path: Path) -> tuple[Path, dict[str, object]]:
    cfg = free_port_config().model_dump()
    path = tmp_path / "testbed.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path, cfg


def _cli(*args: str, timeout_s: float = 90) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=timeout_s,
                          check=False)


@pytest.mark.slow
def test_up_status_down_leave_no_process_behind(tmp_path: Path) -> None:
    config, _ = _write_config(tmp_path)
    state_file = tmp_path / "tb" / "state.json"
    up = _cli("testbed", "up", "--config", str(config), "--state-file", str(state_file))
    try:
        assert up.returncode == 0, up.stderr
        state = load_state(state_file)
        assert set(state.components) == {"redis", "toxiproxy", "provider-primary",
                                         "provider-fallback", "gateway-us-east",
                                         "gateway-us-west", "router"}
        status = _cli("testbed", "status", "--state-file", str(state_file))
        assert status.returncode == 0, status.stdout + status.stderr
        assert status.stdout.count(" ok") == 7
        again = _cli("testbed", "up", "--config", str(config), "--state-file", str(state_file))
        assert again.returncode == 4
        assert "already running" in again.stderr
    finally:
        down = _cli("testbed", "down", "--state-file", str(state_file))
    assert down.returncode == 0, down.stderr
    assert "router" in down.stdout
    assert not any(pid_alive(c.pid, c.argv) for c in state.components.values())
    assert not state_file.exists()


def test_busy_port_is_one_line_exit_4_and_starts_nothing(tmp_path: Path) -> None:
    config, cfg = _write_config(tmp_path)
    port = cfg["ports"]["gateways"]["us-west"]  # type: ignore[index]
    state_file = tmp_path / "tb" / "state.json"
    with socket.socket() as s:
        s.bind(("127.0.0.1", port))
        s.listen()
        up = _cli("testbed", "up", "--config", str(config), "--state-file", str(state_file))
    assert up.returncode == 4
    assert up.stderr.strip() == f"error: port {port} (gateway-us-west) is already in use on 127.0.0.1"
    assert "Traceback" not in up.stderr
    assert not state_file.exists()


def test_bad_config_is_one_line_usage_error(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("router:\n  failover_after: zero\n")
    up = _cli("testbed", "up", "--config", str(path), "--state-file", str(tmp_path / "s.json"))
    assert up.returncode == 2
    assert up.stderr.startswith(f"error: {path}:2:19: router.failover_after: must be a whole number")
    assert "Traceback" not in up.stderr


@pytest.mark.slow
def test_down_after_a_killed_up_stops_everything_it_started(tmp_path: Path) -> None:
    """SIGKILL the `up` command half-way: `down` still stops every component already spawned."""
    config, _ = _write_config(tmp_path)
    state_file = tmp_path / "tb" / "state.json"
    proc = subprocess.Popen([*CLI, "testbed", "up", "--config", str(config), "--state-file",
                             str(state_file)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        def some_started() -> bool:
            raw = json.loads(state_file.read_text())
            return len(raw["components"]) >= 3
        wait_for(some_started, 60, "three components spawned")
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    started = load_state(state_file).components
    assert any(pid_alive(c.pid, c.argv) for c in started.values()), "components outlive the CLI"
    down = _cli("testbed", "down", "--state-file", str(state_file))
    assert down.returncode == 0, down.stderr
    assert not any(pid_alive(c.pid, c.argv) for c in started.values())
