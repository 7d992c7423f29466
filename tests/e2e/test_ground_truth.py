"""Ground truth (issue 21 item 6): seeded, randomized drills over the shipped fault scenarios on
the embedded testbed, run through the real orchestrator, each judged twice: by the framework,
and from the testbed's own request logs (router: what the client was told; gateway, joined by
request id: how a relayed stream ended). Fault instants fall alternately on whole seconds and
off them (7.37 s, or a --time-scale like 0.23).

Per drill it asserts:
  (a) per phase and outcome class, the requests whose outcome instant lies in the phase are the
      framework's count, up to requests whose server-side end lies within 50 ms of a phase
      boundary (borderline, counted and shown), widened by the driver's own event-loop lag
      where the framework reports one at that boundary (a late driver reads outcomes late);
  (b) every request of the failed-request ledger is in the router's log with the same
      non-complete class and code, in the same phase by the server's end instant; and every
      failure the server logged is named by the windows (when none was left unnamed);
  (c) every Tier rate criterion (rate_2xx, rate_5xx, rate_429 per phase and for the run)
      recomputed from the server's counts with the catalog's threshold has the same verdict;
  (d) no limits.circuit_open FAIL without a failed request in the logs.

Size: CHAOS_GROUND_TRUTH_DRILLS (default 5, about 2 minutes), seed CHAOS_GROUND_TRUTH_SEED
(default printed in every drill's report). Alone and larger:

    CHAOS_GROUND_TRUTH_DRILLS=26 pytest -m ground_truth -s
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from chaos.run import RunOptions, run_drill_sync
from chaos.spec import load_drill, load_environment
from tests.e2e.ground_truth import (
    FrameworkSide,
    Plan,
    drills_from_env,
    judge,
    make_plans,
    seed_from_env,
    server_side,
)
from tests.e2e.helpers import MAX_DRIVER_LAG_MS, proxies_clean
from tests.testbed_fixture import RunningTestbed

pytestmark = [pytest.mark.slow, pytest.mark.ground_truth]

SEED = seed_from_env()
PLANS = make_plans(SEED, drills_from_env())


def _wait_for_logs(tb: RunningTestbed, run_id: str, started: int, timeout_s: float = 10.0) -> None:
    """Until the router has logged every request the driver started (the last ones end when
    the driver cancels them)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if len(server_side(tb.log_dir, run_id).outcomes) >= started:
            return
        time.sleep(0.2)


@pytest.mark.parametrize("plan", PLANS, ids=[f"seed{SEED}-{p.id}" for p in PLANS])
def test_per_phase_counts_ledger_and_verdicts_equal_the_testbeds_own_logs(
    plan: Plan, testbed: RunningTestbed, tmp_path: Path
) -> None:
    path = plan.path(tmp_path)
    options = RunOptions(time_scale=plan.time_scale, load_scale=plan.load_scale,
                         evidence_dir=tmp_path / "runs", live=False,
                         max_driver_lag_ms=MAX_DRIVER_LAG_MS, workers=plan.workers,
                         drill_path=path, env_path=testbed.env_path)
    result = run_drill_sync(load_drill(path), load_environment(testbed.env_path), options)
    assert result.bundle is not None, (plan.describe(), result.state, result.reason)
    assert result.state == "complete", (plan.describe(), result.reason)
    assert proxies_clean(testbed)
    framework = FrameworkSide.read(result.bundle)
    _wait_for_logs(testbed, framework.run_id, framework.started)
    found = judge(plan, result.bundle, testbed.log_dir)
    print(found.render())
    assert not found.errors, found.render()
