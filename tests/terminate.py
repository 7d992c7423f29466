"""SIGTERM ends a test run as Ctrl-C does: the test in progress stops and every fixture tears
down (testbeds, Docker worlds, servers), so a CI runner that times out or is cancelled leaves
nothing running. Loaded by tests/conftest.py; tests/robustness/test_ci_sigterm.py checks it."""

from __future__ import annotations

import signal
import threading
from types import FrameType

import pytest


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signal.Signals(signum).name}")


def pytest_configure(config: pytest.Config) -> None:
    # Only the default disposition is replaced: a runner that set its own keeps it.
    if threading.current_thread() is threading.main_thread() and \
            signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        signal.signal(signal.SIGTERM, _interrupt)
