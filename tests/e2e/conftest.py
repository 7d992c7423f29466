"""End-to-end fixtures: one embedded testbed (real Redis, Toxiproxy, gateways, router) per module."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.testbed_fixture import RunningTestbed, running_testbed


@pytest.fixture(scope="module")
def testbed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningTestbed]:
    with running_testbed(tmp_path_factory) as tb:
        yield tb
