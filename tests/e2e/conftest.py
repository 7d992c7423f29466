"""End-to-end fixtures: ONE embedded testbed (real Redis, Toxiproxy, gateways, router) for the
whole e2e session, put back to a clean state before every test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.e2e.helpers import reset_testbed
from tests.testbed_fixture import RunningTestbed, running_testbed


@pytest.fixture(scope="session")
def shared_testbed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningTestbed]:
    with running_testbed(tmp_path_factory) as tb:
        yield tb


@pytest.fixture
def testbed(shared_testbed: RunningTestbed) -> RunningTestbed:
    """The shared testbed, reset: every proxy enabled without toxics, no provider fault switch,
    every component alive, circuits closed and the home region active."""
    reset_testbed(shared_testbed)
    return shared_testbed
