"""`chaos testbed up|down|status`: the embedded reference system as local processes."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from chaos.errors import ChaosError, ExitCode

testbed_app = typer.Typer(help="Run the embedded reference testbed (router, gateways, providers).",
                          no_args_is_help=True)

ConfigOpt = Annotated[Path | None, typer.Option("--config", help="YAML overriding chaos/testbed/defaults.yaml")]
StateOpt = Annotated[Path | None, typer.Option("--state-file",
                                               help="state file (default ~/.chaos/testbed/state.json)")]


def _fail(exc: ChaosError) -> typer.Exit:
    typer.echo(f"error: {exc}", err=True)
    return typer.Exit(int(exc.exit_code))


@testbed_app.command("up")
def up(config: ConfigOpt = None, state_file: StateOpt = None,
       timeout_s: Annotated[float, typer.Option("--timeout", help="start-up deadline, seconds")] = 30.0) -> None:
    """Start redis, toxiproxy (with every proxy), both providers, both gateways and the router."""
    from chaos.testbed import default_state_path, load_config, start_testbed

    path = state_file or default_state_path()
    try:
        state = start_testbed(load_config(config), path, timeout_s=timeout_s)
    except ChaosError as exc:
        raise _fail(exc) from None
    typer.echo(f"testbed up: {state.base_url} (toxiproxy {state.toxiproxy_api}); "
               f"state {path}; logs {state.log_dir}")


@testbed_app.command("down")
def down(state_file: StateOpt = None) -> None:
    """Stop every component the state file names (also after a half-failed `up`)."""
    from chaos.testbed import default_state_path, stop_testbed

    try:
        stopped = stop_testbed(state_file or default_state_path())
    except ChaosError as exc:
        raise _fail(exc) from None
    typer.echo(f"testbed down: stopped {', '.join(stopped)}" if stopped else "testbed down: nothing was running")


@testbed_app.command("status")
def status(state_file: StateOpt = None) -> None:
    """Show each component, its pid and its health; exit 4 when any is not healthy."""
    from chaos.testbed import default_state_path, testbed_status

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
