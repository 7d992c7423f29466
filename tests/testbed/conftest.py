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


@pytest.fixture(scope="module")
def openai_testbed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningTestbed]:
    """Rate limit 3 per 10 s per subject; circuits that never open (each stream fault stays on
    its route); a 1.5 s provider read timeout; 6-token answers 100 ms apart (~0.6 s), long
    enough to cut a link mid-stream."""
    with running_testbed(tmp_path_factory, {
        "gateway": {"rate_limit_requests": 3, "circuit_failure_threshold": 1000,
                    "provider_read_timeout_s": 1.5},
        "provider": {"first_token_delay_ms": 50, "token_interval_ms": 100, "tokens": 6},
    }) as tb:
        yield tb
