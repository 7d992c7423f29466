"""Fixtures of the release tests: the embedded testbed on free ports (module scope)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.testbed_fixture import RunningTestbed, running_testbed


@pytest.fixture(scope="module")
def testbed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningTestbed]:
    """The whole testbed with its defaults (rate limit on, message text never logged)."""
    with running_testbed(tmp_path_factory) as tb:
        yield tb
