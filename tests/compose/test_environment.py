"""environments/compose.yaml follows CHAOS_COMPOSE_PROJECT end to end: preflight, journal
targets and fault primitives all name the stack the variable points at."""

from __future__ import annotations

import anyio
import pytest

from chaos.faults import resolve_fault, targets_for
from chaos.run.preflight import run_preflight
from chaos.spec import load_drill, parse_environment
from chaos.testbed.docker_stack import ComposeStack
from tests.compose.test_drills import DRILLS, environment_text

pytestmark = [pytest.mark.docker, pytest.mark.slow]


def test_compose_project_variable_reaches_preflight_and_primitives(
        compose_stack: ComposeStack, monkeypatch: pytest.MonkeyPatch) -> None:
    """With CHAOS_COMPOSE_PROJECT set to the stack's project, the unmodified `${...}` project
    of environments/compose.yaml is expanded: preflight finds all seven containers running,
    the journal's targets and the region's disconnect primitive name that project."""
    monkeypatch.setenv("CHAOS_COMPOSE_PROJECT", compose_stack.project)
    env = parse_environment(environment_text(compose_stack), path="compose.yaml")
    drill = load_drill(DRILLS / "regional-failover-network.yaml")
    report = anyio.run(run_preflight, drill, env)
    containers = report.check("containers")
    assert containers is not None
    assert containers.ok, report.failures
    assert len(containers.found) == 7
    assert targets_for(env).compose_project == compose_stack.project
    [p] = resolve_fault(drill.faults[0], env)
    assert (p.target, p.params["network"]) == (f"compose:{compose_stack.project}/gateway-us-east",
                                               f"{compose_stack.project}_testbed")
