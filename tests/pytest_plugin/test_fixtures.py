"""Fixtures for drills written in Python, against the real testbed: `toxiproxy` removes every
toxic a test added (and re-enables what it disabled) even when the test fails; `load` drives
the real load driver for a block; `drill` runs a Drill object and reports like a drill item."""

from __future__ import annotations

import httpx
import pytest

from tests.pytest_plugin.conftest import COMMON_ARGS, FAILING
from tests.testbed_fixture import RunningTestbed

pytest_plugins = ["pytester"]


def _proxies(tb: RunningTestbed) -> dict[str, dict[str, object]]:
    response = httpx.get(f"http://127.0.0.1:{tb.config.ports.toxiproxy}/proxies", timeout=5)
    proxies: dict[str, dict[str, object]] = response.json()
    return proxies


def test_toxics_added_by_a_failing_test_are_removed(pytester: pytest.Pytester, testbed: RunningTestbed) -> None:
    pytester.makepyfile(test_toxic="""
        from chaos.faults import Latency, Timeout

        def test_breaks_things_then_fails(toxiproxy):
            toxiproxy.add_toxic("us-east-primary", "slow", Latency(latency_ms=500))
            toxiproxy.add_toxic("us-west-primary", "hole", Timeout(0), stream="upstream")
            toxiproxy.disable("router-us-west")
            names = [t.name for t in toxiproxy.toxics("us-east-primary")]
            assert names == ["chaos_pytest_slow"]
            assert not toxiproxy.proxies()["router-us-west"].enabled
            raise AssertionError("the test fails while its faults are in place")

        def test_passing_test_is_cleaned_too(toxiproxy):
            toxiproxy.add_toxic("us-east-redis", "lag", Latency(latency_ms=100))
    """)
    result = pytester.runpytest("--chaos-env", str(testbed.env_path), *COMMON_ARGS)
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*AssertionError: the test fails while its faults are in place*"])
    proxies = _proxies(testbed)
    assert {name: p["toxics"] for name, p in proxies.items() if p["toxics"]} == {}
    assert all(p["enabled"] for p in proxies.values())


def test_load_fixture_drives_the_target_for_a_block(pytester: pytest.Pytester, testbed: RunningTestbed) -> None:
    pytester.makepyfile(test_load="""
        import time

        def test_block(load):
            with load(streams=2) as rec:
                deadline = time.monotonic() + 30
                while rec.count("2xx") < 3:
                    assert time.monotonic() < deadline, "no 2xx within 30 s"
                    time.sleep(0.1)
            assert rec.summary is not None
            assert rec.summary.stopped_early
            assert rec.summary.counts["2xx"] >= 3
            assert rec.summary.counts.get("5xx", 0) == 0
    """)
    result = pytester.runpytest("--chaos-env", str(testbed.env_path), *COMMON_ARGS)
    result.assert_outcomes(passed=1)


def test_drill_fixture_runs_a_drill_object_and_check_reports_the_table(
    pytester: pytest.Pytester, testbed: RunningTestbed
) -> None:
    pytester.makefile(".txt", spec=FAILING)  # .txt: not collected as a drill item
    pytester.makepyfile(test_drill="""
        from pathlib import Path

        import yaml
        from chaos.spec import Drill
        from chaos.slo.verdict import Verdict

        SPEC = Drill.model_validate(yaml.safe_load(Path("spec.txt").read_text()))

        def test_impossible_threshold(drill):
            result = drill(SPEC, evidence_dir=Path("ev"))
            assert result.verdict is Verdict.FAIL
            assert result.bundle is not None and (result.bundle / "evidence.json").is_file()
            drill.check(result, name=SPEC.name)
    """)
    result = pytester.runpytest("--chaos-env", str(testbed.env_path), *COMMON_ARGS, "--junitxml=j.xml")
    result.assert_outcomes(failed=1)
    out = result.stdout.str()
    assert "drill tiny-fail: FAIL" in out
    assert "Traceback" not in out
    assert 'name="chaos.verdict" value="FAIL"' in (pytester.path / "j.xml").read_text()


def test_chaos_env_without_an_environment_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_env="def test_needs_env(chaos_env):\n    pass\n")
    result = pytester.runpytest(*COMMON_ARGS[:2])
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*--chaos-env*"])
