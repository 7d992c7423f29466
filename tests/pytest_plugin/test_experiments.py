"""A shipped drill file from experiments/ run through pytest against the embedded testbed, in
compressed time, passes; every fault it injected is reverted."""

from __future__ import annotations

import shutil

import httpx
import pytest

from tests.pytest_plugin.conftest import COMMON_ARGS, REPO
from tests.testbed_fixture import RunningTestbed

pytest_plugins = ["pytester"]


def test_provider_outage_drill_passes_through_pytest(pytester: pytest.Pytester, testbed: RunningTestbed) -> None:
    """experiments/provider-outage.yaml at time scale 0.1 (6 min -> 36 s) and load scale 0.4
    (40 streams: enough requests in the shortened baseline for an honest p95): PASS, and
    Toxiproxy is clean afterwards."""
    shutil.copytree(REPO / "experiments", pytester.path / "experiments")
    result = pytester.runpytest(
        "experiments/provider-outage.yaml", "--chaos-env", str(testbed.env_path),
        "--chaos-time-scale", "0.1", "--chaos-load-scale", "0.4", "--chaos-evidence-dir", "ev",
        "-rA", *COMMON_ARGS)
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["PASS *experiments/provider-outage.yaml::provider-outage  evidence: *"])
    proxies = httpx.get(f"http://127.0.0.1:{testbed.config.ports.toxiproxy}/proxies", timeout=5).json()
    assert all(p["enabled"] and not p["toxics"] for p in proxies.values())
