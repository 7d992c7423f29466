"""How any failure underneath a command reaches the user: one line naming what failed and
what to do, the exit code of its kind (2 usage, 4 infrastructure, never 1, which means FAIL),
and the traceback only with `--debug` (or CHAOS_DEBUG=1)."""

from __future__ import annotations

import os
import sys
import traceback
from typing import Any

import typer
from typer.core import TyperGroup
from typer.exceptions import Abort, TyperException

from chaos.errors import ChaosError, ExitCode, describe, exit_code_of, primary_error

DEBUG_ENV = "CHAOS_DEBUG"
DEBUG_FLAG = "--debug"


def debug_enabled(ctx: Any = None) -> bool:
    """`--debug` given to the root command, or CHAOS_DEBUG set to anything but 0/empty."""
    if ctx is not None and ctx.find_root().meta.get("chaos.debug"):
        return True
    return os.environ.get(DEBUG_ENV, "") not in ("", "0")


def failure_line(exc: BaseException, command: str | None = None) -> str:
    """The one line for `exc`: what failed, where, and what to do."""
    main = primary_error(exc)
    where = f"chaos {command}: " if command else ""
    text = describe(main)
    if isinstance(main, ChaosError):
        return f"error: {where}{text}"
    if isinstance(main, OSError):
        return (f"error: {where}{text}: check the path, its permissions and free space "
                f"({DEBUG_FLAG} shows the traceback)")
    return f"error: {where}{text}: this is a bug ({DEBUG_FLAG} shows the traceback)"


def report_failure(exc: BaseException, *, command: str | None = None, debug: bool = False) -> int:
    """Print `exc` as one line on stderr (its traceback first with `debug`); its exit code."""
    if debug:
        traceback.print_exception(exc, file=sys.stderr)
    typer.echo(failure_line(exc, command), err=True)
    return int(exit_code_of(primary_error(exc)))


def move_debug_flag(argv: list[str]) -> list[str]:
    """`--debug` anywhere before `--` moved in front of the command, where the root takes it
    (so `chaos run d.yaml --env e.yaml --debug` works as well as `chaos --debug run ...`)."""
    end = argv.index("--") if "--" in argv else len(argv)
    if DEBUG_FLAG not in argv[:end]:
        return argv
    rest = [a for i, a in enumerate(argv) if not (i < end and a == DEBUG_FLAG)]
    return [DEBUG_FLAG, *rest]


class ChaosGroup(TyperGroup):
    """The root command group: no traceback reaches the user from any command."""

    def invoke(self, ctx: Any) -> Any:  # typer's (vendored) click Context
        try:
            return super().invoke(ctx)
        except (typer.Exit, Abort, TyperException):
            raise  # exits, usage errors: typer prints them as they are
        except KeyboardInterrupt:
            typer.echo("interrupted", err=True)
            raise typer.Exit(int(ExitCode.INTERRUPTED)) from None
        except Exception as exc:  # an ExceptionGroup of Exceptions included
            command = ctx.invoked_subcommand
            raise typer.Exit(
                report_failure(exc, command=command, debug=debug_enabled(ctx))) from None
        except BaseExceptionGroup as group:
            if isinstance(primary_error(group), KeyboardInterrupt):
                typer.echo("interrupted", err=True)
                raise typer.Exit(int(ExitCode.INTERRUPTED)) from None
            raise
