"""`chaos testbed status --runtime docker` through the real Typer app, against a real stack."""

from __future__ import annotations

import uuid

import pytest
from typer.testing import CliRunner

from chaos.cli import app
from chaos.errors import ExitCode
from chaos.testbed.docker_stack import SERVICES, ComposeStack

pytestmark = [pytest.mark.docker, pytest.mark.slow]

runner = CliRunner()


def rows(output: str) -> dict[str, list[str]]:
    """service -> [container, state, health] from the status table."""
    out: dict[str, list[str]] = {}
    for line in output.splitlines():
        service, *rest = line.split()
        out[service] = rest
    return out


def test_status_lists_every_service_running_and_healthy(compose_stack: ComposeStack) -> None:
    """A healthy stack: one row per service with its container, `running`, `healthy`; exit 0."""
    result = runner.invoke(app, ["testbed", "status", "--runtime", "docker",
                                 "--project", compose_stack.project])
    assert result.exit_code == 0, result.output
    table = rows(result.output)
    assert list(table) == list(SERVICES)
    for service, (container, state, health) in table.items():
        assert container == f"{compose_stack.project}-{service}"
        assert (state, health) == ("running", "healthy"), result.output


def test_status_project_follows_chaos_compose_project(compose_stack: ComposeStack) -> None:
    """Without --project the compose project comes from CHAOS_COMPOSE_PROJECT, the variable
    environments/compose.yaml uses."""
    result = runner.invoke(app, ["testbed", "status", "--runtime", "docker"],
                           env={"CHAOS_COMPOSE_PROJECT": compose_stack.project})
    assert result.exit_code == 0, result.output
    assert {r[0] for r in rows(result.output).values()} == {
        f"{compose_stack.project}-{s}" for s in SERVICES}


def test_status_of_a_project_with_no_containers_exits_4(docker_client: object) -> None:
    """No container of the project: every service `missing`, exit 4 (infrastructure)."""
    project = f"chaos-test-none-{uuid.uuid4().hex[:8]}"
    result = runner.invoke(app, ["testbed", "status", "--runtime", "docker", "--project", project])
    assert result.exit_code == int(ExitCode.INFRASTRUCTURE), result.output
    assert [r[1] for r in rows(result.output).values()] == ["missing"] * len(SERVICES)
