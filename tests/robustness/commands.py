"""`chaos` as the user runs it (a subprocess, plain output) for the robustness tests."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.e2e.helpers import EXPERIMENTS, MAX_DRIVER_LAG_MS
from tests.testbed_fixture import RunningTestbed

# provider-outage-down disables the primary proxies from 6 s to 15 s of the load at --time-scale 0.1.
OUTAGE = EXPERIMENTS / "provider-outage-down.yaml"


def run_args(tb: RunningTestbed, evidence_dir: Path, *extra: str, drill: Path = OUTAGE) -> list[str]:
    return [sys.executable, "-m", "chaos", "run", str(drill), "--env", str(tb.env_path),
            "--time-scale", "0.1", "--load-scale", "0.1", "--evidence-dir", str(evidence_dir),
            "--max-driver-lag-ms", str(MAX_DRIVER_LAG_MS), "--no-live", *extra]


def start(args: list[str], out: Path, **env: str) -> subprocess.Popen[bytes]:
    """Start a chaos command with stdout and stderr into `out`."""
    with out.open("wb") as sink:
        return subprocess.Popen(args, stdout=sink, stderr=subprocess.STDOUT,
                                env=os.environ | {"NO_COLOR": "1", "COLUMNS": "400", **env})


def chaos(*args: str, timeout_s: float = 240, **env: str) -> subprocess.CompletedProcess[str]:
    """Run a chaos command to its end; stdout and stderr apart."""
    return subprocess.run([sys.executable, "-m", "chaos", *args], capture_output=True, text=True,
                          timeout=timeout_s, check=False,
                          env=os.environ | {"NO_COLOR": "1", "COLUMNS": "400", **env})


def finish(proc: subprocess.Popen[bytes], timeout_s: float) -> int:
    """Wait for `proc`; kill it (and fail) when it outlives `timeout_s`."""
    try:
        return proc.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        raise AssertionError(f"the command did not end within {timeout_s:g}s") from None


def only_bundle(evidence_dir: Path) -> Path:
    found = [p for p in evidence_dir.iterdir() if p.is_dir()]
    assert len(found) == 1, found
    return found[0]


def no_traceback(text: str) -> None:
    assert "Traceback" not in text, text
    assert "ExceptionGroup" not in text, text
