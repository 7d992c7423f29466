"""Fixtures of the release tests: the embedded testbed on free ports (module scope)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.testbed_fixture import RunningTestbed, running_testbed

# The checklist is under test, not the testbed's capacity: on this shared 2-core machine the
# default 0.5 s admission bound sheds burst requests as 503 redis_unavailable under contention.
# A low per-subject limit makes the small test bursts (BURST) shed with 429 for certain.
RELEASE_TESTBED: dict[str, Any] = {"gateway": {"redis_timeout_s": 5.0, "rate_limit_requests": 5}}
BURST = 12


def release_overrides(gateway: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"gateway": {**RELEASE_TESTBED["gateway"], **(gateway or {})}}


@pytest.fixture(scope="module")
def testbed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningTestbed]:
    """The whole testbed (rate limit on, message text never logged)."""
    with running_testbed(tmp_path_factory, release_overrides()) as tb:
        yield tb
