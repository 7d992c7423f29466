"""Opt-in collection: drill YAML files become items only with --chaos-env or `chaos_drills`;
environments, release checklists and unrelated YAML never do. No drill is run here."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.pytest_plugin.conftest import PASSING, REPO, UNDECIDED

pytest_plugins = ["pytester"]


def _tree(pytester: pytest.Pytester) -> None:
    pytester.makefile(".yaml", tiny_pass=PASSING, tiny_inconclusive=UNDECIDED)
    shutil.copy(REPO / "environments" / "local.yaml", pytester.path / "env.yaml")
    shutil.copy(REPO / "experiments" / "release.yaml", pytester.path / "release.yaml")
    pytester.makefile(".yml", compose="services:\n  web: {image: nginx}\n")
    pytester.makefile(".yaml", broken="key: [unclosed\n")


def test_without_opt_in_no_yaml_is_collected(pytester: pytest.Pytester) -> None:
    """The plugin is loaded in every pytest run; without opting in it collects nothing."""
    _tree(pytester)
    result = pytester.runpytest("--collect-only", "-q")
    result.assert_outcomes()
    assert "tiny" not in result.stdout.str()
    assert result.ret == pytest.ExitCode.NO_TESTS_COLLECTED


def test_chaos_env_collects_only_drill_files(pytester: pytest.Pytester) -> None:
    """With --chaos-env, drills are items named after the drill; the environment, the release
    checklist, a compose file and broken YAML are not collected (and no error is raised)."""
    _tree(pytester)
    result = pytester.runpytest("--chaos-env", "env.yaml", "--collect-only", "-q")
    lines = sorted(line for line in result.stdout.lines if "::" in line)
    assert lines == ["tiny_inconclusive.yaml::tiny-inconclusive", "tiny_pass.yaml::tiny-pass"]
    assert result.ret == pytest.ExitCode.OK


def test_ini_chaos_drills_opts_in_for_matching_files(pytester: pytest.Pytester) -> None:
    """`chaos_drills` globs opt in and restrict collection to the files they match."""
    _tree(pytester)
    pytester.makeini("[pytest]\nchaos_drills = tiny_pass.yaml\nchaos_env = env.yaml\n")
    result = pytester.runpytest("--collect-only", "-q")
    assert [line for line in result.stdout.lines if "::" in line] == ["tiny_pass.yaml::tiny-pass"]


def test_drill_items_carry_markers_for_selection(pytester: pytest.Pytester) -> None:
    """Every drill is marked chaos_drill; gate drills also chaos_gate, so CI can run smoke
    drills with -m "not chaos_gate" and the gates on a schedule with -m chaos_gate."""
    _tree(pytester)
    pytester.makefile(".yaml", gate=PASSING.replace("name: tiny-pass", "name: gated")
                      .replace("tier: L", "tier: L\ngate: M1"))
    smoke = pytester.runpytest("--chaos-env", "env.yaml", "--collect-only", "-q", "-m", "not chaos_gate")
    assert "gate.yaml::gated" not in smoke.stdout.str()
    assert "tiny_pass.yaml::tiny-pass" in smoke.stdout.str()
    gates = pytester.runpytest("--chaos-env", "env.yaml", "--collect-only", "-q", "-m", "chaos_gate")
    assert [line for line in gates.stdout.lines if "::" in line] == ["gate.yaml::gated"]


def test_invalid_drill_is_a_collection_error_with_file_and_line(pytester: pytest.Pytester) -> None:
    """A drill with a spec error is reported as file:line problems, not a traceback."""
    shutil.copy(REPO / "environments" / "local.yaml", pytester.path / "env.yaml")
    pytester.makefile(".yaml", bad=PASSING.replace("tier: L", "tier: Q"))
    result = pytester.runpytest("--chaos-env", "env.yaml")
    assert result.ret == pytest.ExitCode.INTERRUPTED  # collection errors stop the session
    out = result.stdout.str()
    assert "bad.yaml:3:" in out, out
    assert "Traceback" not in out


def test_real_experiments_are_collected(pytester: pytest.Pytester) -> None:
    """The shipped experiments/ directory: its drills are collected, release.yaml is not."""
    shutil.copytree(REPO / "experiments", pytester.path / "experiments")
    shutil.copy(REPO / "environments" / "local.yaml", pytester.path / "env.yaml")
    result = pytester.runpytest("experiments", "--chaos-env", "env.yaml", "--collect-only", "-q")
    items = [line for line in result.stdout.lines if "::" in line]
    assert "experiments/provider-outage.yaml::provider-outage" in items
    assert "experiments/regional-failover.yaml::regional-failover" in items
    assert not any("release" in i for i in items)


def test_plugin_module_imports_nothing_heavy() -> None:
    """Loaded in every run: importing the plugin must not pull in the framework's heavy parts."""
    import subprocess
    import sys

    code = ("import sys, chaos.pytest_plugin; heavy = [m for m in ('chaos.run', 'chaos.load', "
            "'chaos.faults', 'docker', 'httpx', 'plotly', 'rich') if m in sys.modules]; print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=Path(__file__).parent)
    assert out.stdout.strip() == "[]", out.stdout
