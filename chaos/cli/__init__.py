"""The `chaos` command line: one Typer app; each command group lives in its own module."""

from __future__ import annotations

import typer

from chaos.cli import (
    fault_cmds,
    faultproxy_cmds,
    release_cmds,
    run_cmds,
    slo_cmds,
    spec_cmds,
    testbed_cmds,
)

app = typer.Typer(
    name="chaos",
    help="Declarative chaos and failover drills: real load, real faults, evidence-backed verdicts.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)



@app.callback()
def _root() -> None:
    """Declarative chaos and failover drills: real load, real faults, evidence-backed verdicts."""


@app.command()
def version() -> None:
    """Print the tool version."""
    from chaos import __version__

    typer.echo(__version__)


for _module in (spec_cmds, testbed_cmds, fault_cmds, slo_cmds, run_cmds, release_cmds, faultproxy_cmds):
    _module.register(app)


def main() -> None:
    from chaos.console import install_redacting_streams

    install_redacting_streams()  # every line printed from here on has its secrets redacted
    app()
