"""What the process prints is redacted: rich Consoles, click/typer echo, logging, tracebacks."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import click
import pytest
from rich.console import Console

from chaos.console import RedactingStream, redacting_console
from chaos.redact import register_variable

ROOT = Path(__file__).resolve().parents[2]
SECRET = "Strm-secret-5Kd!q"


@pytest.fixture(scope="module", autouse=True)
def _known() -> None:
    register_variable("CHAOS_TEST_STREAM_KEY", SECRET)


def test_a_write_is_redacted_and_counted_as_written() -> None:
    inner = io.StringIO()
    stream = RedactingStream(inner)
    assert stream.write(f"sig={SECRET} api http://u:p@h\n") == len(f"sig={SECRET} api http://u:p@h\n")
    assert inner.getvalue() == "sig=<redacted:CHAOS_TEST_STREAM_KEY> api http://***@h\n"
    assert not stream.isatty()
    assert stream.encoding == "utf-8"
    with pytest.raises(TypeError):
        stream.write(b"")  # type: ignore[arg-type]  # click probes for a binary stream this way


def test_rich_and_click_write_through_it() -> None:
    inner = io.StringIO()
    stream = RedactingStream(inner)
    Console(file=stream, width=200).print(f"[bold]url[/] http://h/x?sig={SECRET}")
    click.echo(f"token {SECRET}", file=stream)
    assert SECRET not in inner.getvalue()
    assert inner.getvalue().count("<redacted:CHAOS_TEST_STREAM_KEY>") == 2


def test_the_cli_wraps_stdout_and_stderr_for_everything_printed() -> None:
    """`chaos.cli.main` installs the wrappers: print, typer.echo, logging and an uncaught
    traceback all come out redacted."""
    code = f"""
import logging, sys, typer
from chaos.console import install_redacting_streams
from chaos.redact import register_variable
register_variable("CHAOS_TEST_STREAM_KEY", {SECRET!r})
install_redacting_streams()
install_redacting_streams()  # idempotent
print("print", {SECRET!r})
typer.echo("echo " + {SECRET!r}, err=True)
logging.getLogger("chaos.test").warning("log %s", {SECRET!r})
raise RuntimeError("boom http://user:pw@host/x " + {SECRET!r})
"""
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 1
    out = done.stdout + done.stderr
    assert SECRET not in out, out
    assert "pw@" not in out, out
    assert out.count("<redacted:CHAOS_TEST_STREAM_KEY>") == 4, out
    assert "RuntimeError: boom http://***@host/x" in done.stderr


def test_a_redacting_console_for_callers_outside_the_cli(capsys: pytest.CaptureFixture[str]) -> None:
    redacting_console(stderr=True, width=200).print(f"live: sig={SECRET}")
    assert capsys.readouterr().err == "live: sig=<redacted:CHAOS_TEST_STREAM_KEY>\n"


def test_the_pytest_plugin_reports_a_run_redacted() -> None:
    """A drill's pytest failure text (shown by pytest, kept in JUnit) carries no secret."""
    from chaos.errors import ExitCode
    from chaos.pytest_support.outcome import decide
    from chaos.run.options import RunResult

    result = RunResult(None, ExitCode.INFRASTRUCTURE, None, state="preflight_failed",
                       reason=f"Toxiproxy API http://chaos:pw@h:1/?sig={SECRET} not reachable")
    with pytest.raises(pytest.fail.Exception) as failed:
        decide("d", result, allow_inconclusive=False)
    assert "reason: Toxiproxy API http://***@h:1/?sig=<redacted:CHAOS_TEST_STREAM_KEY>" in str(failed.value)
