"""Fixtures of the robustness tests: a testbed of their own (its Toxiproxy is SIGKILLed and its
evidence directories fill up here, never the shared session components other tests use)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.e2e.helpers import reset_testbed
from tests.testbed_fixture import RunningTestbed, running_testbed


@pytest.fixture(scope="session")
def own_testbed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningTestbed]:
    with running_testbed(tmp_path_factory) as tb:
        yield tb


@pytest.fixture
def testbed(own_testbed: RunningTestbed) -> RunningTestbed:
    """The robustness testbed, reset: every component alive, proxies clean, circuits closed."""
    reset_testbed(own_testbed)
    return own_testbed
