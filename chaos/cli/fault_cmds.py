"""`chaos cleanup`: revert whatever a killed run left behind."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from chaos.errors import ChaosError, ExitCode


def register(app: typer.Typer) -> None:
    """Add this group's commands to the app."""
    app.command()(cleanup)


def cleanup(
    run: Annotated[Path | None, typer.Option("--run", help="Run directory (or journal file) whose open faults to revert.")] = None,
    env: Annotated[Path | None, typer.Option("--env", help="Environment file: remove every framework toxic, enable its proxies, bring back its services.")] = None,
    allow_production: Annotated[bool, typer.Option("--allow-production", help="Allow an environment of kind production.")] = False,
) -> None:
    """Revert any fault still open: replay a run's journal and/or clean a whole environment."""
    import anyio

    if run is None and env is None:
        typer.echo("chaos cleanup: give --run DIR and/or --env ENV", err=True)
        raise typer.Exit(ExitCode.USAGE)
    try:
        lines: list[str] = []
        if run is not None:
            from chaos.faults.replay import journal_path_of, replay_journal

            if not journal_path_of(run).exists():
                typer.echo(f"chaos cleanup: no fault journal at {journal_path_of(run)}", err=True)
                raise typer.Exit(ExitCode.USAGE)
            lines += anyio.run(replay_journal, run)
        if env is not None:
            from chaos.faults.replay import cleanup_environment
            from chaos.spec.loader import load_environment

            environment = load_environment(env, allow_production=allow_production)
            lines += anyio.run(cleanup_environment, environment)
    except ChaosError as exc:
        typer.echo(f"chaos cleanup: {exc}", err=True)
        raise typer.Exit(exc.exit_code) from None
    for line in lines:
        typer.echo(line)
    typer.echo(f"cleanup done: {len(lines)} action(s)")
