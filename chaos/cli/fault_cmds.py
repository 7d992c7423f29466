"""`chaos cleanup`: revert whatever a killed run left behind."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer

from chaos.errors import ChaosError, CleanupError, ExitCode


def register(app: typer.Typer) -> None:
    """Add this group's commands to the app."""
    app.command()(cleanup)


def cleanup(
    run: Annotated[Path | None, typer.Option("--run", help="Run directory (or journal file) whose open faults to revert.")] = None,
    env: Annotated[Path | None, typer.Option("--env", help="Environment file: remove every framework toxic, enable its proxies, bring back its services.")] = None,
    allow_production: Annotated[bool, typer.Option("--allow-production", help="Allow an environment of kind production.")] = False,
) -> None:
    """Revert any fault still open: replay a run's journal and/or clean a whole environment.

    Exits 0 only when everything was reverted; 4 when a component could not be reached, an
    action could not be reverted, or a component came back without its state (a restarted
    Toxiproxy has no proxies), each named on its own line."""
    import anyio

    if run is None and env is None:
        typer.echo("chaos cleanup: give --run DIR and/or --env ENV", err=True)
        raise typer.Exit(ExitCode.USAGE)
    done: list[str] = []
    failures: list[str] = []
    if run is not None:
        from chaos.faults.replay import journal_path_of, replay_journal

        if not journal_path_of(run).exists():
            typer.echo(f"chaos cleanup: no fault journal at {journal_path_of(run)}", err=True)
            raise typer.Exit(ExitCode.USAGE)
        _collect(lambda: anyio.run(replay_journal, run), done, failures)
        from chaos.report.bundle import mark_killed

        bundle = run if run.is_dir() else run.parent
        if mark_killed(bundle, why="found running by chaos cleanup, its runner gone") is not None:
            done.append(f"bundle {bundle} was left running by a runner that is gone: marked killed")
    if env is not None:
        from chaos.faults.replay import cleanup_environment
        from chaos.spec.loader import load_environment

        try:
            environment = load_environment(env, allow_production=allow_production)
        except ChaosError as exc:
            typer.echo(f"chaos cleanup: {exc}", err=True)
            raise typer.Exit(exc.exit_code) from None
        _collect(lambda: anyio.run(cleanup_environment, environment), done, failures)
    for line in done:
        typer.echo(line)
    for line in failures:
        typer.echo(f"NOT reverted: {line}", err=True)
    if failures:
        again = " ".join(["chaos cleanup", *([f"--run {_quote(run)}"] if run else []),
                          *([f"--env {_quote(env)}"] if env else [])])
        typer.echo(f"cleanup incomplete: {len(done)} action(s) done, {len(failures)} not; "
                   f"once the component is back run again: {again}", err=True)
        raise typer.Exit(ExitCode.INFRASTRUCTURE)
    typer.echo(f"cleanup done: {len(done)} action(s)")


def _collect(job: Callable[[], list[str]], done: list[str], failures: list[str]) -> None:
    """Run one cleanup job; what it did goes to `done`, what it could not do to `failures`."""
    try:
        done.extend(job())
    except CleanupError as exc:
        done.extend(exc.done)
        failures.extend(" ".join(f.split()) for f in exc.failures)
    except ChaosError as exc:
        failures.append(" ".join(str(exc).split()))


def _quote(path: Path | None) -> str:
    import shlex

    return shlex.quote(str(path))
