"""pytest plugin: drill YAML files as tests, and fixtures for drills written in Python.

Opt-in: nothing is collected unless `--chaos-env FILE` (or ini `chaos_env`) or the ini
setting `chaos_drills` is given. The module imports only pytest at import time; everything
else is imported when a drill or a fixture is actually used.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from chaos.pytest_support.drill_runner import DrillRunner
    from chaos.pytest_support.load_block import LoadDriver
    from chaos.pytest_support.settings import ChaosSettings
    from chaos.pytest_support.toxiproxy_fixture import TestToxiproxy
    from chaos.spec import Environment


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("chaos", "chaos drills (opt-in with --chaos-env)")
    group.addoption("--chaos-env", dest="chaos_env", metavar="FILE", default=None,
                    help="Environment YAML to run drills against; collects drill YAML files as tests.")
    group.addoption("--chaos-time-scale", dest="chaos_time_scale", type=float, default=1.0, metavar="F",
                    help="Compress every drill duration by this factor (0.1 = 10x shorter). Default 1.")
    group.addoption("--chaos-load-scale", dest="chaos_load_scale", type=float, default=1.0, metavar="F",
                    help="Scale stream counts and arrival rates. Default 1.")
    group.addoption("--chaos-evidence-dir", dest="chaos_evidence_dir", default="runs", metavar="DIR",
                    help="Where evidence bundles go. Default: runs/")
    group.addoption("--chaos-allow-inconclusive", dest="chaos_allow_inconclusive", action="store_true",
                    help="An INCONCLUSIVE drill is a skip (with the reason) instead of a failure.")
    group.addoption("--allow-production", dest="chaos_allow_production", action="store_true",
                    help="Accept an environment of kind: production (the guardrail refuses it otherwise).")
    group.addoption("--chaos-max-driver-lag-ms", dest="chaos_max_driver_lag_ms", type=float, default=None,
                    metavar="MS", help="Driver loop-lag p99 above which a window counts as saturated.")
    group.addoption("--chaos-workers", dest="chaos_workers", type=int, default=None, metavar="N",
                    help="Load worker processes (default: the drill's / auto).")
    parser.addini("chaos_env", "Environment YAML for drills (like --chaos-env).", default="")
    parser.addini("chaos_drills", "Glob patterns of drill YAML files to collect as tests (opt-in).",
                  type="linelist", default=[])


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "chaos_drill: a drill YAML file run by the chaos plugin")
    config.addinivalue_line("markers", "chaos_gate: a drill that names a milestone gate (M1/M2/M3)")
    from chaos.pytest_support.settings import SETTINGS_KEY, ChaosSettings

    config.stash[SETTINGS_KEY] = ChaosSettings.from_config(config)


def _settings(config: pytest.Config) -> ChaosSettings:
    from chaos.pytest_support.settings import SETTINGS_KEY

    return config.stash[SETTINGS_KEY]


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    if file_path.suffix not in (".yaml", ".yml"):
        return None
    settings = _settings(parent.config)
    if not settings.enabled:
        return None
    from chaos.pytest_support.items import DrillFile, is_drill_file

    if not is_drill_file(file_path, settings, parent.config.rootpath):
        return None
    drill_file: DrillFile = DrillFile.from_parent(parent, path=file_path)
    return drill_file


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    from chaos.pytest_support.items import RESULTS_KEY

    results = terminalreporter.config.stash.get(RESULTS_KEY, [])
    if not results:
        return
    terminalreporter.section("chaos evidence")
    for nodeid, verdict, bundle in results:
        terminalreporter.write_line(f"{verdict:<12} {nodeid}  evidence: {bundle}")


# -- fixtures for drills written in Python ---------------------------------------------------


@pytest.fixture(scope="session")
def chaos_env(pytestconfig: pytest.Config) -> Environment:
    """The environment of --chaos-env, loaded and checked (production only with --allow-production)."""
    from chaos.errors import ChaosError
    from chaos.pytest_support.runner import load_env

    try:
        return load_env(_settings(pytestconfig))
    except ChaosError as exc:
        raise pytest.UsageError(f"chaos_env: {exc}") from None


@pytest.fixture
def toxiproxy(chaos_env: Environment) -> Iterator[TestToxiproxy]:
    """The environment's Toxiproxy; every toxic the test adds is removed (and every proxy it
    disabled re-enabled) at teardown, even when the test fails."""
    from chaos.pytest_support.toxiproxy_fixture import TestToxiproxy
    from chaos.spec import expand_env

    proxy = TestToxiproxy(expand_env(chaos_env.toxiproxy.api, where="toxiproxy.api"))
    try:
        yield proxy
    finally:
        left = proxy.restore()
        if left:
            pytest.fail("toxiproxy teardown could not undo: " + "; ".join(left), pytrace=False)


@pytest.fixture
def load(chaos_env: Environment, request: pytest.FixtureRequest) -> LoadDriver:
    """`with load(streams=5) as rec:` drives the environment's chat endpoint for the block."""
    from chaos.pytest_support.load_block import LoadDriver

    return LoadDriver(chaos_env, run_id=f"pytest-{request.node.name}"[:80])


@pytest.fixture
def drill(chaos_env: Environment, pytestconfig: pytest.Config, request: pytest.FixtureRequest) -> DrillRunner:
    """`result = drill(Drill(...))` runs a drill with the session's --chaos-* options;
    `drill.check(result)` fails the test with the criteria table unless it passed."""
    from chaos.pytest_support.drill_runner import DrillRunner

    node = request.node
    assert isinstance(node, pytest.Item)
    return DrillRunner(chaos_env, _settings(pytestconfig), node)
