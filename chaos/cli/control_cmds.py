"""`chaos abort`, `chaos resume`: game-day controls of the drill running on an environment,
from any terminal of its host (docs/gameday.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from chaos.errors import ExitCode

ENV_HELP = "The environment: its YAML file, or its name."


def register(app: typer.Typer) -> None:
    """Add this group's commands to the app."""
    app.command("abort")(abort)
    app.command("resume")(resume)


def _environment(env: str) -> tuple[str, object | None]:
    """The environment's name and model (None when given by name only)."""
    path = Path(env)
    if path.is_file():
        from chaos.spec import load_environment

        environment = load_environment(path, allow_production=True)
        return environment.name, environment
    return env, None


def abort(
    env: Annotated[str, typer.Option("--env", help=ENV_HELP)],
    reason: Annotated[str, typer.Option("--reason", help="Why (recorded in the evidence).")] = "",
    clear: Annotated[bool, typer.Option("--clear", help="Remove the environment's file kill switch instead.")] = False,
) -> None:
    """Stop the drill running on ENV: faults reverted, evidence written as aborted."""
    from chaos.control import read_holder, request_abort
    from chaos.control.switch import switch_file
    from chaos.spec import Environment

    name, environment = _environment(env)
    if clear:
        path = switch_file(environment) if isinstance(environment, Environment) else None
        if path is None:
            typer.echo(f"error: --clear needs the environment's YAML file naming "
                       f"guardrails.kill_switch.file ({env} names none)", err=True)
            raise typer.Exit(int(ExitCode.USAGE))
        if path.exists():
            path.unlink()
            typer.echo(f"kill switch {path} cleared: drills on {name} may start again")
        else:
            typer.echo(f"kill switch {path} was not set")
        return
    holder = read_holder(name)
    if holder is None or not holder.alive():
        typer.echo(f"error: no drill is running on environment {name}", err=True)
        raise typer.Exit(int(ExitCode.INFRASTRUCTURE))
    request_abort(name, reason)
    typer.echo(f"abort requested: the drill of {holder.describe()} stops within a few seconds")


def resume(
    env: Annotated[str, typer.Option("--env", help=ENV_HELP)],
) -> None:
    """Release the hold the drill on ENV is waiting in (the fault is applied next)."""
    from chaos.control import read_hold, read_holder, request_resume

    name, _ = _environment(env)
    holder = read_holder(name)
    hold = read_hold(name)
    if holder is None or not holder.alive() or hold is None:
        typer.echo(f"error: no drill is holding on environment {name}", err=True)
        raise typer.Exit(int(ExitCode.INFRASTRUCTURE))
    request_resume(name)
    typer.echo(f"resumed: fault {hold.get('fault_id')} ({hold.get('description')}) is applied next")
