"""A test run sent SIGTERM (a CI runner's timeout or cancel) stops and tears its fixtures
down, so the real components it started do not outlive it (tests/terminate.py)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

HANGING_TEST = '''
import subprocess, sys, time
import pytest

@pytest.fixture
def child():
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    yield proc
    proc.kill()
    proc.wait()
    open({torn!r}, "w").write("torn down")

def test_hangs(child):
    open({started!r}, "w").write(str(child.pid))
    time.sleep(600)
'''


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.parametrize("plugin", [True, False], ids=["with-terminate", "without"])
def test_sigterm_stops_the_run_and_tears_its_fixtures_down(tmp_path: Path, plugin: bool) -> None:
    started, torn = tmp_path / "started", tmp_path / "torn"
    test_file = tmp_path / "test_hanging.py"
    test_file.write_text(HANGING_TEST.format(started=str(started), torn=str(torn)))
    args = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(test_file)]
    if plugin:
        args[3:3] = ["-p", "tests.terminate"]
    run = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    child = 0
    try:
        deadline = time.monotonic() + 60
        while not started.exists() or not started.read_text():
            assert run.poll() is None, run.communicate()[0]
            assert time.monotonic() < deadline, "the hanging test never started"
            time.sleep(0.05)
        child = int(started.read_text())
        run.send_signal(signal.SIGTERM)
        out = run.communicate(timeout=30)[0].decode()
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()
    if plugin:
        assert torn.read_text() == "torn down", out
        assert not _alive(child)
        assert "KeyboardInterrupt" in out
        assert run.returncode != 0
    else:  # the default: killed on the spot, its fixture's process left running
        try:
            assert not torn.exists()
            assert _alive(child)
            assert run.returncode == -signal.SIGTERM
        finally:
            if child:
                os.kill(child, signal.SIGKILL)
