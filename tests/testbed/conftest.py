"""Testbed fixtures: one shared instance for the API tests (module scope)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.testbed_fixture import RunningTestbed, running_testbed


@pytest.fixture(scope="module")
def api_testbed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningTestbed]:
    """Rate limit 5 per 10 s per subject, global concurrency cap 4, fast provider."""
    with running_testbed(tmp_path_factory, {"gateway": {"rate_limit_requests": 5,
                                                        "concurrency_cap": 4}}) as tb:
        yield tb


@pytest.fixture(scope="module")
def fault_testbed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningTestbed]:
    """No rate limit, 2 provider slots per gateway with a 1 s queue bound, fast circuits."""
    with running_testbed(tmp_path_factory, {"gateway": {"rate_limit_requests": 0,
                                                        "provider_concurrency": 2,
                                                        "queue_timeout_s": 1.0}}) as tb:
        yield tb
