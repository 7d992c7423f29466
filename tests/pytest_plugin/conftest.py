"""One embedded testbed (real Redis, Toxiproxy, gateways, router) for the plugin's tests, and
tiny drill files that finish in seconds against it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.testbed_fixture import RunningTestbed, running_testbed

REPO = Path(__file__).resolve().parents[2]

# The machine running the suite is shared: loosen the driver's own loop-lag limit (still far
# below the latency thresholds it protects), as tests/e2e does.
COMMON_ARGS = ("-p", "no:cacheprovider", "--chaos-max-driver-lag-ms", "200", "--chaos-workers", "1")

TINY = """\
version: 1
name: {name}
tier: L
duration: {duration}
load: {{model: closed, streams: 4, ramp_up: 1s, ramp_down: 1s}}
slo:
  min_requests_for_p95: {min_requests}
{overrides}steady_state:
  - name: target-healthy
    http: {{path: /health, expect_status: 200}}
"""


def tiny_drill(name: str, *, duration: str = "6s", min_requests: int = 5, overrides: str = "") -> str:
    """A short fault-free Tier L drill; `overrides` is an indented `  overrides:` block."""
    return TINY.format(name=name, duration=duration, min_requests=min_requests,
                       overrides=f"  overrides:\n{overrides}" if overrides else "")


PASSING = tiny_drill("tiny-pass")
FAILING = tiny_drill("tiny-fail", overrides="    p95_first_token: 1ms\n")  # impossible
UNDECIDED = tiny_drill("tiny-inconclusive", min_requests=10_000_000)  # too few requests for a p95


# Streams as long as the defaults' (about 0.7 s): with the FAST ones of the shared fixture a
# closed-model stream would exceed the per-subject rate limit (20 per 10 s) and see 429s.
REALISTIC_STREAMS = {"provider": {"first_token_delay_ms": 100, "token_interval_ms": 30, "tokens": 20}}


@pytest.fixture(scope="package")
def testbed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningTestbed]:
    with running_testbed(tmp_path_factory, REALISTIC_STREAMS) as tb:
        yield tb
