"""`chaos run` as a subprocess, interrupted in the middle of a fault: SIGINT reverts, writes an
incomplete/interrupted bundle and exits 130; SIGKILL leaves the revert to the watchdog."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from typer.testing import CliRunner

from chaos.cli import app
from chaos.errors import ExitCode
from chaos.report.reader import read_raw
from tests.e2e.helpers import EXPERIMENTS, MAX_DRIVER_LAG_MS, proxies, proxies_clean
from tests.servers import wait_for
from tests.testbed_fixture import RunningTestbed

# provider-outage-down disables the primary proxies (Toxiproxy) from 6 s to 15 s of the load.
DRILL = EXPERIMENTS / "provider-outage-down.yaml"


def start_run(tb: RunningTestbed, evidence_dir: Path) -> subprocess.Popen[bytes]:
    argv = [sys.executable, "-m", "chaos", "run", str(DRILL), "--env", str(tb.env_path),
            "--time-scale", "0.1", "--load-scale", "0.1", "--evidence-dir", str(evidence_dir),
            "--max-driver-lag-ms", str(MAX_DRIVER_LAG_MS)]
    with (evidence_dir.parent / "chaos-run.out").open("wb") as out:
        return subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT,
                                env=os.environ | {"NO_COLOR": "1"})


def primary_cut(tb: RunningTestbed) -> bool:
    return any(name.endswith("-primary") and not p["enabled"] for name, p in proxies(tb).items())


def bundle_of(evidence_dir: Path) -> Path:
    found = [p for p in evidence_dir.iterdir() if p.is_dir()]
    assert len(found) == 1, found
    return found[0]


def test_sigint_mid_fault_reverts_marks_the_bundle_interrupted_and_exits_130(
    testbed: RunningTestbed, tmp_path: Path
) -> None:
    proc = start_run(testbed, tmp_path / "runs")
    try:
        wait_for(lambda: primary_cut(testbed), 60, "the primary links cut by the drill")
        time.sleep(1.0)  # mid-fault (window 9 s), not mid-apply: the apply is verified first
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == ExitCode.INTERRUPTED, (tmp_path / "chaos-run.out").read_text()
    assert proxies_clean(testbed)  # every proxy enabled, no framework toxic left
    bundle = bundle_of(tmp_path / "runs")
    raw = read_raw(bundle)
    assert raw.state == "interrupted"
    assert raw.recording.complete is False
    doc = json.loads((bundle / "evidence.json").read_text())
    assert doc["verdict"] != "PASS"
    fault = raw.recording.faults[0]
    assert fault.applied_at is not None
    assert fault.reverted_at is not None
    cli = CliRunner().invoke(app, ["report", str(bundle)])
    assert "interrupted" in cli.output.lower(), cli.output


def test_sigkill_mid_fault_the_watchdog_reverts_within_10s(
    testbed: RunningTestbed, tmp_path: Path
) -> None:
    proc = start_run(testbed, tmp_path / "runs")
    try:
        wait_for(lambda: primary_cut(testbed), 60, "the primary links cut by the drill")
        proc.kill()  # SIGKILL: no handler runs, no revert in the runner
        killed_at = time.monotonic()
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    wait_for(lambda: proxies_clean(testbed), 10, "watchdog revert of the primary links")
    assert time.monotonic() - killed_at <= 10.0
    bundle = bundle_of(tmp_path / "runs")
    assert not (bundle / "evidence.json").exists()  # never a bundle that claims PASS
    raw = read_raw(bundle)
    assert raw.recording.complete is False
    # The watchdog marks the bundle killed, ended at its last record, and `chaos report` says so.
    wait_for(lambda: json.loads((bundle / "run.json").read_text())["state"] == "killed", 10,
             "the watchdog marking the bundle killed")
    run_meta = json.loads((bundle / "run.json").read_text())
    assert run_meta["ended_at"] >= run_meta["started_at"]
    assert run_meta["aborted"].startswith("killed")
    cli = CliRunner().invoke(app, ["report", str(bundle)])
    assert "killed" in cli.output.lower(), cli.output
