"""The `chaos` command line: one Typer app; each command group lives in its own module."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from chaos.cli import (
    control_cmds,
    fault_cmds,
    faultproxy_cmds,
    release_cmds,
    run_cmds,
    slo_cmds,
    spec_cmds,
    testbed_cmds,
)
from chaos.cli.failures import ChaosGroup, move_debug_flag

app = typer.Typer(
    name="chaos",
    help="Declarative chaos and failover drills: real load, real faults, evidence-backed verdicts.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    cls=ChaosGroup,  # no traceback reaches the user: one line and the exit code of its kind
)



@app.callback()
def _root(
    ctx: typer.Context,
    debug: Annotated[bool, typer.Option("--debug", help="On a failure, print the full traceback "
                                        "too (also CHAOS_DEBUG=1; a run's is in its bundle's debug.log).")] = False,
) -> None:
    """Declarative chaos and failover drills: real load, real faults, evidence-backed verdicts."""
    ctx.meta["chaos.debug"] = debug


@app.command()
def version() -> None:
    """Print the tool version."""
    from chaos import __version__

    typer.echo(__version__)


for _module in (spec_cmds, testbed_cmds, fault_cmds, slo_cmds, run_cmds, release_cmds, faultproxy_cmds,
                control_cmds):
    _module.register(app)


def main() -> None:
    from chaos.console import install_redacting_streams

    install_redacting_streams()  # every line printed from here on has its secrets redacted
    app(args=move_debug_flag(sys.argv[1:]))
