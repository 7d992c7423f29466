"""A stream can be HTTP 200 and still broken: the shipped provider-stream-faults drill, on the
embedded testbed speaking OpenAI, must FAIL each fault window with the broken, truncated and
stalled classes (and the in-band error code) in its evidence, never count them as successes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chaos.errors import ExitCode
from chaos.slo.verdict import Verdict
from tests.e2e.helpers import criteria, proxies_clean, run, table
from tests.testbed_fixture import RunningTestbed

pytestmark = pytest.mark.slow


def test_streams_broken_in_band_truncated_or_stalled_fail_their_fault_windows(
    testbed: RunningTestbed, tmp_path: Path
) -> None:
    result = run(testbed, "provider-stream-faults", tmp_path, time_scale=0.2, load_scale=0.3)
    assert result.bundle is not None
    assert proxies_clean(testbed)
    assert result.state == "complete", result.reason
    assert result.verdict is Verdict.FAIL, table(result.bundle)
    assert result.exit_code == ExitCode.FAIL
    doc = json.loads((result.bundle / "evidence.json").read_text())
    counts = doc["report"]["load"]["counts"]
    assert counts["broken"] > 0, counts
    assert counts["truncated"] > 0, counts
    assert counts["stalled"] > 0, counts
    assert doc["report"]["load"]["class_codes"].get("broken:overloaded_error", 0) > 0
    found = criteria(result.bundle)
    for fault in ("stream-error", "stream-truncate", "stream-stall"):
        assert found[f"tier_l.rate_5xx@fault:{fault}"]["verdict"] == "FAIL", table(result.bundle)
    assert found["tier_l.rate_5xx@baseline"]["verdict"] == "PASS", table(result.bundle)
    ledger = doc["report"]["failed_requests"]
    assert ledger["total"] == sum(n for cls, n in counts.items() if cls != "2xx")
    phases = {r["phase"] for r in ledger["shown"]}
    assert {"fault:stream-error", "fault:stream-truncate", "fault:stream-stall"} <= phases
    # Latencies are over complete streams only: the fault windows' p95 has few samples.
    streams = doc["report"]["streams"]
    assert streams["complete_streams"] == counts["2xx"]
    assert streams["first_token"]["n"] == counts["2xx"]
