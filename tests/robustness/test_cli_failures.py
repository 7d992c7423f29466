"""Whatever fails underneath a command: one line naming what failed and what to do, the exit
code of its kind (never 1, which means FAIL), the traceback only with --debug."""

from __future__ import annotations

import errno
import subprocess
import sys
from pathlib import Path

import anyio
import pytest
import typer
from typer.testing import CliRunner

from chaos.cli import app
from chaos.cli.failures import ChaosGroup, failure_line, move_debug_flag
from chaos.errors import (
    EvidenceError,
    ExitCode,
    FaultError,
    RevertError,
    StillApplied,
    ToxiproxyError,
    exit_code_of,
    primary_error,
)


def _app(exc: BaseException) -> typer.Typer:
    """A one-command app on the chaos root group whose command raises `exc`."""
    test_app = typer.Typer(cls=ChaosGroup, add_completion=False, pretty_exceptions_enable=False)

    @test_app.callback()
    def root() -> None:
        """Root."""

    @test_app.command()
    def boom() -> None:
        raise exc

    return test_app


def _group(*excs: Exception) -> ExceptionGroup[Exception]:
    """What an anyio task group raises: the errors of its tasks, nested."""
    return ExceptionGroup("unhandled errors in a TaskGroup", [ExceptionGroup("inner", list(excs))])


REVERT = RevertError([StillApplied("primary-down", "toxiproxy.disable", "us-east-primary",
                                   "ConnectError")], cleanup="chaos cleanup --run runs/x",
                     deadline_s=60)

CASES = [
    ("OSError ENOSPC in a group", _group(OSError(errno.ENOSPC, "No space left on device", "runs/x/samples.jsonl")),
     ExitCode.INFRASTRUCTURE, "runs/x/samples.jsonl: No space left on device (ENOSPC)"),
    ("revert failure beats a cancellation-caused error", _group(ValueError("x"), REVERT),
     ExitCode.INFRASTRUCTURE, "chaos cleanup --run runs/x"),
    ("Toxiproxy gone", _group(ToxiproxyError("us-east-primary", "update proxy", "ConnectError")),
     ExitCode.INFRASTRUCTURE, "fault update proxy on us-east-primary: ConnectError"),
    ("a corrupted bundle", EvidenceError("runs/x/evidence.json:3: not valid JSON"), ExitCode.USAGE,
     "evidence.json:3"),
    ("a bug", _group(KeyError("oops")), ExitCode.INFRASTRUCTURE, "internal error KeyError"),
    ("permission", PermissionError(errno.EACCES, "Permission denied", "/etc/x"), ExitCode.INFRASTRUCTURE,
     "/etc/x: Permission denied (EACCES)"),
]


@pytest.mark.parametrize(("case", "exc", "code", "text"), CASES, ids=[c[0] for c in CASES])
def test_any_failure_is_one_line_and_the_exit_code_of_its_kind(
    case: str, exc: Exception, code: ExitCode, text: str,
) -> None:
    result = CliRunner().invoke(_app(exc), ["boom"])
    assert result.exit_code == code, result.output
    assert result.exit_code != ExitCode.FAIL
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    assert lines[0].startswith("error: chaos boom: "), lines[0]
    assert text in lines[0], lines[0]
    assert "Traceback" not in result.output


def test_debug_prints_the_traceback_then_the_line() -> None:
    exc = _group(OSError(errno.EROFS, "Read-only file system", "runs/x/run.json"))
    result = CliRunner(env={"CHAOS_DEBUG": "1"}).invoke(_app(exc), ["boom"])
    assert result.exit_code == ExitCode.INFRASTRUCTURE
    assert "Traceback" in result.output
    assert result.output.strip().splitlines()[-1].startswith("error: chaos boom: runs/x/run.json")


def test_the_debug_flag_works_anywhere_before_double_dash() -> None:
    assert move_debug_flag(["run", "d.yaml", "--debug"]) == ["--debug", "run", "d.yaml"]
    assert move_debug_flag(["--debug", "report", "x"]) == ["--debug", "report", "x"]
    assert move_debug_flag(["run", "--", "--debug"]) == ["run", "--", "--debug"]
    assert move_debug_flag(["report", "x"]) == ["report", "x"]


def test_the_real_entry_point_takes_debug_after_the_command(tmp_path: Path) -> None:
    missing = tmp_path / "nope"
    proc = subprocess.run([sys.executable, "-m", "chaos", "report", str(missing), "--debug"],
                          capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == ExitCode.USAGE, proc.stderr
    assert proc.stderr.strip() == f"error: {missing}: no such bundle directory"


def test_primary_error_unwraps_nested_task_groups() -> None:
    inner = FaultError("redis", "revert docker.pause", "timed out")
    assert primary_error(_group(RuntimeError("late"), inner)) is inner
    assert primary_error(_group(OSError(errno.ENOSPC, "full"), KeyError("k"))).__class__ is OSError
    assert exit_code_of(_group(inner)) == ExitCode.INFRASTRUCTURE  # a group is not a ChaosError


def test_failure_line_names_the_command_and_what_to_do() -> None:
    line = failure_line(OSError(errno.EIO, "Input/output error", "runs/x/windows.jsonl"), "report")
    assert line.startswith("error: chaos report: runs/x/windows.jsonl: Input/output error (EIO)")
    assert "check the path" in line
    assert "--debug" in failure_line(ZeroDivisionError("division by zero"), "run")


def test_a_command_that_raises_inside_anyio_shows_no_exception_group(tmp_path: Path) -> None:
    """The shape `chaos run` had: an ExceptionGroup out of anyio.run reaches the group handler."""

    async def fail() -> None:
        async with anyio.create_task_group() as tg:
            async def task() -> None:
                raise ToxiproxyError("us-west-primary", "update proxy", "ConnectError: refused")
            tg.start_soon(task)

    test_app = typer.Typer(cls=ChaosGroup, add_completion=False, pretty_exceptions_enable=False)

    @test_app.callback()
    def root() -> None:
        """Root."""

    @test_app.command()
    def go() -> None:
        anyio.run(fail)

    result = CliRunner().invoke(test_app, ["go"])
    assert result.exit_code == ExitCode.INFRASTRUCTURE
    assert result.output.strip() == ("error: chaos go: fault update proxy on us-west-primary: "
                                     "ConnectError: refused")


def test_the_chaos_app_uses_the_failure_group() -> None:
    assert isinstance(typer.main.get_command(app), ChaosGroup)


def test_a_revert_failure_names_each_action_and_whether_its_apply_was_ever_verified(tmp_path: Path) -> None:
    """An action whose apply never verified (Toxiproxy went silent mid-apply) may not have
    taken effect: the terminal says so beside it, rather than calling it applied."""
    import json

    from chaos.cli.run_cmds import failure_block
    from chaos.run.options import RunResult

    cut = StillApplied("primary-down", "toxiproxy.disable", "us-east-primary", "ConnectError")
    unsure = StillApplied("primary-down", "toxiproxy.disable", "us-west-primary",
                          "fault update proxy on us-west-primary: ReadTimeout", verified=False)
    error = RevertError([cut, unsure], cleanup=f"chaos cleanup --run {tmp_path}", deadline_s=60)
    assert "2 fault action(s) still applied after 60s of retries, 1 of them never verified applied" in str(error)
    event = {"kind": "revert_failed", "reason": str(error), "cleanup": error.cleanup,
             "actions": [{"fault_id": a.fault_id, "primitive": a.primitive, "target": a.target,
                          "error": a.error, "verified": a.verified} for a in error.still_applied]}
    (tmp_path / "events.jsonl").write_text(json.dumps(event) + "\n")
    lines = failure_block(RunResult(verdict=None, exit_code=ExitCode.INFRASTRUCTURE, bundle=tmp_path,
                                    state="revert_failed", reason=str(error)))
    assert lines[1:4] == [
        "still applied (2 fault action(s)): fault, primitive, target",
        "  primary-down  toxiproxy.disable  us-east-primary",
        "  primary-down  toxiproxy.disable  us-west-primary  (apply never verified: it may not have taken effect)",
    ]
    assert unsure.line() == lines[3].strip()
