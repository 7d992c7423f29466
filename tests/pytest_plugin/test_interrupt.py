"""Ctrl-C during a pytest drill reverts every fault like `chaos run` does, seals the evidence as
interrupted, and stops the session (pytest exit 2)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.pytest_plugin.conftest import COMMON_ARGS, tiny_drill
from tests.servers import wait_for
from tests.testbed_fixture import RunningTestbed

LONG_OUTAGE = tiny_drill("long-outage", duration="90s").replace("steady_state:", """\
faults:
  - {id: primary-down, scenario: provider_outage, target: primary, mode: down, at: 3s, for: 80s}
steady_state:""")


def test_sigint_during_a_drill_reverts_the_fault_and_stops_pytest(
    tmp_path: Path, testbed: RunningTestbed
) -> None:
    (tmp_path / "outage.yaml").write_text(LONG_OUTAGE)
    api = f"http://127.0.0.1:{testbed.config.ports.toxiproxy}/proxies"

    def disabled() -> set[str]:
        return {n for n, p in httpx.get(api, timeout=5).json().items() if not p["enabled"]}

    proc = subprocess.Popen(
        [sys.executable, "-m", "pytest", "--chaos-env", str(testbed.env_path), "--chaos-evidence-dir", "ev",
         *COMMON_ARGS, "outage.yaml"],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        wait_for(lambda: disabled() == {"us-east-primary", "us-west-primary"}, 60, "the outage to be applied")
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == pytest.ExitCode.INTERRUPTED, out
    assert "KeyboardInterrupt" in out
    assert "faults reverted" in out
    assert disabled() == set()
    (bundle,) = (tmp_path / "ev").iterdir()
    evidence = json.loads((bundle / "evidence.json").read_text())
    assert evidence["state"] == "interrupted"
    assert all(f["reverted_at"] is not None for f in evidence["faults"])
    assert time.time() - evidence["faults"][0]["reverted_at"] < 60  # reverted at the signal, not the end


def test_pytest_timeout_mid_fault_reverts_and_seals_the_evidence_as_interrupted(
    tmp_path: Path, testbed: RunningTestbed
) -> None:
    """pytest-timeout (signal method) fires 10 s into an 80 s outage: the test fails with the
    timeout, every fault is reverted before pytest moves on, and the bundle is sealed as
    interrupted with the data collected so far (not left half-written)."""
    (tmp_path / "outage.yaml").write_text(LONG_OUTAGE)
    api = f"http://127.0.0.1:{testbed.config.ports.toxiproxy}/proxies"
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "--chaos-env", str(testbed.env_path), "--chaos-evidence-dir", "ev",
         *COMMON_ARGS, "--timeout", "10", "--timeout-method", "signal", "outage.yaml"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120)
    out = proc.stdout + proc.stderr
    assert proc.returncode == pytest.ExitCode.TESTS_FAILED, out
    assert "Timeout (>10.0s) from pytest-timeout" in out
    assert {n for n, p in httpx.get(api, timeout=5).json().items() if not p["enabled"]} == set()
    (bundle,) = (tmp_path / "ev").iterdir()
    evidence = json.loads((bundle / "evidence.json").read_text())
    assert evidence["state"] == "interrupted", evidence["state"]
    assert evidence["verdict"] != "PASS"
    assert evidence["faults"][0]["applied_at"] is not None
    assert evidence["faults"][0]["reverted_at"] is not None
    assert evidence["load"]["requests"] > 0  # what the run collected is kept
    assert (bundle / "manifest.sha256").exists()
