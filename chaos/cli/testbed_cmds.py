"""`chaos testbed up|down|status`: the embedded reference system as local processes."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from chaos.errors import ChaosError, ExitCode

if TYPE_CHECKING:  # imported where used at run time: the process runtime needs no compose code
    from chaos.testbed.docker_stack import ComposeStack

testbed_app = typer.Typer(help="Run the embedded reference testbed (router, gateways, providers).",
                          no_args_is_help=True)

ConfigOpt = Annotated[Path | None, typer.Option("--config", help="YAML overriding chaos/testbed/defaults.yaml")]
StateOpt = Annotated[Path | None, typer.Option("--state-file",
                                               help="state file (default ~/.chaos/testbed/state.json)")]


RuntimeOpt = Annotated[str, typer.Option("--runtime", help="process (local processes) or docker (compose stack)")]
OfflineOpt = Annotated[bool | None, typer.Option(
    "--offline/--no-offline", help="docker: images built locally, no registry (default: $CHAOS_OFFLINE)")]
ProjectOpt = Annotated[str, typer.Option(
    "--project", envvar="CHAOS_COMPOSE_PROJECT",
    help="docker: compose project name (environments/compose.yaml follows the same variable)")]


def _stack(runtime: str, offline: bool | None, project: str) -> ComposeStack | None:
    """The compose stack for --runtime docker; None for the process runtime."""
    if runtime == "process":
        return None
    if runtime != "docker":
        typer.echo(f"error: --runtime: expected process or docker, got {runtime!r}", err=True)
        raise typer.Exit(int(ExitCode.USAGE))
    from chaos.testbed.docker_stack import ComposeStack, offline_from_env

    return ComposeStack(project=project, offline=offline_from_env() if offline is None else offline)


def _fail(exc: ChaosError) -> typer.Exit:
    typer.echo(f"error: {exc}", err=True)
    return typer.Exit(int(exc.exit_code))


@testbed_app.command("up")
def up(config: ConfigOpt = None, state_file: StateOpt = None,
       timeout_s: Annotated[float, typer.Option("--timeout", help="start-up deadline, seconds")] = 30.0,
       runtime: RuntimeOpt = "process", offline: OfflineOpt = None,
       project: ProjectOpt = "chaos-testbed") -> None:
    """Start redis, toxiproxy (with every proxy), both providers, both gateways and the router."""
    from chaos.testbed import default_state_path, load_config, start_testbed

    stack = _stack(runtime, offline, project)
    if stack is not None:
        from chaos.testbed.docker_stack import docker_up

        try:
            status = docker_up(stack, timeout_s=max(timeout_s, 180))
        except ChaosError as exc:
            raise _fail(exc) from None
        typer.echo(f"testbed up (docker, project {status.project}, "
                   f"{'offline images' if stack.offline else 'registry images'}): "
                   f"{len(status.services)} services healthy")
        return

    path = state_file or default_state_path()
    try:
        state = start_testbed(load_config(config), path, timeout_s=timeout_s)
    except ChaosError as exc:
        raise _fail(exc) from None
    typer.echo(f"testbed up: {state.base_url} (toxiproxy {state.toxiproxy_api}); "
               f"state {path}; logs {state.log_dir}")


@testbed_app.command("down")
def down(state_file: StateOpt = None, runtime: RuntimeOpt = "process", offline: OfflineOpt = None,
         project: ProjectOpt = "chaos-testbed") -> None:
    """Stop every component the state file names (also after a half-failed `up`)."""
    from chaos.testbed import default_state_path, stop_testbed

    stack = _stack(runtime, offline, project)
    if stack is not None:
        from chaos.testbed.docker_stack import docker_down

        try:
            docker_down(stack)
        except ChaosError as exc:
            raise _fail(exc) from None
        typer.echo(f"testbed down (docker, project {stack.project}): nothing left behind")
        return

    try:
        stopped = stop_testbed(state_file or default_state_path())
    except ChaosError as exc:
        raise _fail(exc) from None
    typer.echo(f"testbed down: stopped {', '.join(stopped)}" if stopped else "testbed down: nothing was running")


@testbed_app.command("status")
def status(state_file: StateOpt = None, runtime: RuntimeOpt = "process", offline: OfflineOpt = None,
           project: ProjectOpt = "chaos-testbed") -> None:
    """Show each component, its pid and its health; exit 4 when any is not healthy."""
    from chaos.testbed import default_state_path, testbed_status

    stack = _stack(runtime, offline, project)
    if stack is not None:
        from chaos.testbed.docker_stack import docker_status

        try:
            stack_status = docker_status(stack)
        except ChaosError as exc:
            raise _fail(exc) from None
        for svc in stack_status.services:
            typer.echo(f"{svc.service:<18} {svc.container or '-':<32} {svc.state:<9} {svc.health or '-'}")
        if not stack_status.healthy:
            raise typer.Exit(int(ExitCode.INFRASTRUCTURE))
        return

    try:
        rows = testbed_status(state_file or default_state_path())
    except ChaosError as exc:
        raise _fail(exc) from None
    for row in rows:
        typer.echo(f"{row.name:<18} pid {row.pid:<7} port {row.port:<6} {row.health}")
    if any(r.health != "ok" for r in rows):
        raise typer.Exit(int(ExitCode.INFRASTRUCTURE))


def register(app: typer.Typer) -> None:
    """Add this group's commands to the app."""
    app.add_typer(testbed_app, name="testbed")
