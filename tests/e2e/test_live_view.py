"""`chaos run` on a real terminal (a pseudo-terminal): the rich live view renders phase,
progress, rates against thresholds, faults, circuit, queue age, region and driver figures,
and the run still ends with the verdict table."""

from __future__ import annotations

import os
import pty
import re
import select
import subprocess
import sys
import time
from pathlib import Path

from chaos.errors import ExitCode
from tests.e2e.helpers import EXPERIMENTS, MAX_DRIVER_LAG_MS
from tests.testbed_fixture import RunningTestbed

_ANSI = re.compile(rb"\x1b\[[0-9;?]*[A-Za-z]")


def test_live_view_on_a_terminal_shows_the_run_and_ends_with_the_verdict(
    testbed: RunningTestbed, tmp_path: Path
) -> None:
    argv = [sys.executable, "-m", "chaos", "run", str(EXPERIMENTS / "smoke.yaml"),
            "--env", str(testbed.env_path), "--time-scale", "0.25", "--load-scale", "0.5",
            "--evidence-dir", str(tmp_path / "runs"), "--max-driver-lag-ms", str(MAX_DRIVER_LAG_MS)]
    leader, follower = pty.openpty()
    env = os.environ | {"COLUMNS": "160", "LINES": "40", "TERM": "xterm-256color"}
    env.pop("NO_COLOR", None)
    proc = subprocess.Popen(argv, stdin=follower, stdout=follower, stderr=follower, env=env,
                            close_fds=True)
    os.close(follower)
    out = b""
    deadline = time.monotonic() + 180
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([leader], [], [], 1.0)
            if ready:
                try:
                    chunk = os.read(leader, 65536)
                except OSError:  # EIO: the child closed the terminal
                    break
                if not chunk:
                    break
                out += chunk
            elif proc.poll() is not None:
                break
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(leader)
    text = _ANSI.sub(b"", out).decode("utf-8", "replace")
    assert proc.returncode in (ExitCode.PASS, ExitCode.INCONCLUSIVE), text[-3000:]
    assert b"\x1b[" in out  # a terminal gets colours and cursor moves, not plain lines
    assert "phase baseline" in text, text[-3000:]
    assert re.search(r"\d+/\d+ s, \d+ s remaining", text), text[-3000:]
    for label in ("req/s", "complete", "server failures", "p95 first token", "faults:", "circuit:",
                  "queue age:",
                  "active region:", "driver: lag p99"):
        assert label in text, (label, text[-3000:])
    assert "phase=" not in text  # the plain CI line is for non-terminals only
    assert re.search(r"(PASS|INCONCLUSIVE): exit [03] \(", text), text[-3000:]  # the verdict line
