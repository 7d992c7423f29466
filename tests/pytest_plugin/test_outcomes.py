"""Drill items against the real embedded testbed: FAIL fails with the criteria table (no
traceback), INCONCLUSIVE fails unless allowed (then skips with the reason), the evidence path
is printed and measured values land in the JUnit XML as properties. (A PASS needs at least one
whole minute of run for the rollback triggers: test_experiments.py runs a real drill to PASS.)"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tests.pytest_plugin.conftest import COMMON_ARGS, FAILING, UNDECIDED
from tests.testbed_fixture import RunningTestbed

pytest_plugins = ["pytester"]


def _properties(junit: Path, name: str) -> dict[str, str]:
    case = next(c for c in ET.parse(junit).getroot().iter("testcase") if c.get("name") == name)
    return {p.get("name", ""): p.get("value", "") for p in case.iter("property")}


def test_fail_and_inconclusive_fail_the_test_with_criteria_table_evidence_and_junit(
    pytester: pytest.Pytester, testbed: RunningTestbed
) -> None:
    pytester.makefile(".yaml", b_fail=FAILING, c_inconclusive=UNDECIDED)
    junit = pytester.path / "junit.xml"
    result = pytester.runpytest("--chaos-env", str(testbed.env_path), "--chaos-evidence-dir", "ev",
                                f"--junitxml={junit}", "-rA", *COMMON_ARGS)
    out = result.stdout.str()
    result.assert_outcomes(failed=2)
    assert result.ret == pytest.ExitCode.TESTS_FAILED

    # The failure report is the criteria table, failing rows first, not a traceback.
    assert "Traceback" not in out
    assert "def runtest" not in out
    fail_section = out[out.index("_ drill: tiny-fail _"):]
    assert "drill tiny-fail: FAIL (run complete, exit 1)" in fail_section
    header = next(line for line in fail_section.splitlines() if line.startswith("criterion"))
    assert header.split() == ["criterion", "verdict", "measured", "threshold", "reason"]
    first_row = fail_section.splitlines()[fail_section.splitlines().index(header) + 2]
    assert first_row.split()[:2] == [first_row.split()[0], "FAIL"]
    assert "p95_first_token" in first_row
    assert "<= 1 ms" in first_row
    assert "drill tiny-inconclusive: INCONCLUSIVE" in out
    assert "fewer than the 10000000 needed for an honest p95" in out

    # Every run's bundle is printed in the summary and exists.
    summary = out[out.index("chaos evidence"):]
    bundles = {}
    for line in summary.splitlines()[1:3]:
        verdict, nodeid, _, path = line.split()
        bundles[nodeid.rsplit("/", 1)[-1]] = (verdict, Path(path))
    assert {k: v[0] for k, v in bundles.items()} == {
        "b_fail.yaml::tiny-fail": "FAIL",
        "c_inconclusive.yaml::tiny-inconclusive": "INCONCLUSIVE"}
    for _, path in bundles.values():
        assert (path / "evidence.json").is_file()
        assert path.parent == pytester.path / "ev"

    # Measured values as JUnit properties.
    props = _properties(junit, "tiny-fail")
    assert props["chaos.verdict"] == "FAIL"
    assert props["chaos.evidence"] == str(bundles["b_fail.yaml::tiny-fail"][1])
    p95 = next(k for k in props if k.startswith("chaos.measured.") and "p95_first_token" in k)
    assert float(props[p95]) > 1.0
    assert props[p95.replace("measured", "verdict", 1)] == "FAIL"
    assert int(props["chaos.load.2xx"]) > 0
    assert _properties(junit, "tiny-inconclusive")["chaos.verdict"] == "INCONCLUSIVE"


def test_allowed_inconclusive_is_a_skip_with_the_reason(
    pytester: pytest.Pytester, testbed: RunningTestbed
) -> None:
    pytester.makefile(".yaml", c_inconclusive=UNDECIDED)
    result = pytester.runpytest("--chaos-env", str(testbed.env_path), "--chaos-evidence-dir", "ev",
                                "--chaos-allow-inconclusive", "-rs", *COMMON_ARGS)
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(["SKIPPED*drill tiny-inconclusive INCONCLUSIVE:*needed for an honest p95*evidence:*"])


def test_secret_from_the_environment_never_reaches_evidence_or_output(
    pytester: pytest.Pytester, testbed: RunningTestbed, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The environment's token is `${CHAOS_TOKEN:-...}`: the value set in the runner's
    environment is used for the load (2xx flow) but appears in no bundle file, JUnit XML or
    pytest output."""
    secret = "pytestsecret7Q2Z"
    monkeypatch.setenv("CHAOS_TOKEN", f"tb-{secret}{{subject}}")
    pytester.makefile(".yaml", b_fail=FAILING)
    junit = pytester.path / "junit.xml"
    result = pytester.runpytest("--chaos-env", str(testbed.env_path), "--chaos-evidence-dir", "ev",
                                f"--junitxml={junit}", "-rA", *COMMON_ARGS)
    result.assert_outcomes(failed=1)
    assert int(_properties(junit, "tiny-fail")["chaos.load.2xx"]) > 0  # the token was accepted
    assert secret not in result.stdout.str()
    assert secret not in junit.read_text()
    files = [p for p in (pytester.path / "ev").rglob("*") if p.is_file()]
    assert any(p.name == "evidence.json" for p in files)
    leaked = [str(p) for p in files if secret.encode() in p.read_bytes()]
    assert leaked == []
