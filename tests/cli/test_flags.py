"""Bad flags and bad files through the real Typer app: one line, exit 2 (usage or spec) or 4
(infrastructure), never a traceback, never exit 1 (which means FAIL), nothing started."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import Result
from typer.testing import CliRunner

from chaos.cli import app

ROOT = Path(__file__).resolve().parents[2]
DRILL = str(ROOT / "experiments" / "smoke.yaml")
ENV = str(ROOT / "environments" / "local.yaml")
runner = CliRunner()


def invoke(*args: str) -> Result:
    result = runner.invoke(app, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    return result


def line_of(path: Path, text: str) -> int:
    """The number of the first line of `path` holding `text`."""
    return next(i for i, line in enumerate(path.read_text().splitlines(), 1) if text in line)


def one_line(result: Result, code: int, expected: str) -> None:
    """The command exited with `code` and printed exactly `expected` (one line)."""
    assert result.exit_code == code, result.output
    assert result.output.splitlines() == [expected], result.output


@pytest.mark.parametrize("command", ["plan", "run"])
@pytest.mark.parametrize(("flag", "value", "expected"), [
    ("--time-scale", "inf", "error: --time-scale must be a number from 0.001 to 1000, not inf"),
    ("--time-scale", "1e308", "error: --time-scale must be a number from 0.001 to 1000, not 1e+308"),
    ("--time-scale", "1e-300", "error: --time-scale must be a number from 0.001 to 1000, not 1e-300"),
    ("--time-scale", "nan", "error: --time-scale must be a number from 0.001 to 1000, not nan"),
    ("--time-scale", "0", "error: --time-scale must be a number from 0.001 to 1000, not 0.0"),
    ("--time-scale", "-1", "error: --time-scale must be a number from 0.001 to 1000, not -1.0"),
])
def test_time_scale_must_be_finite_and_sane(command: str, flag: str, value: str, expected: str) -> None:
    extra = ["--no-preflight"] if command == "plan" else []
    one_line(invoke(command, DRILL, "--env", ENV, *extra, flag, value), 2, expected)


@pytest.mark.parametrize(("args", "expected"), [
    (["--load-scale", "inf"], "error: --load-scale must be a number from 0.001 to 1000, not inf"),
    (["--load-scale", "1e-9"], "error: --load-scale must be a number from 0.001 to 1000, not 1e-09"),
    (["--tier", "Z"], "error: --tier must be one of L, G, X, not 'Z'"),
    (["--workers", "0"], "error: --workers must be from 1 to 1024, not 0"),
    (["--workers", "1000000"], "error: --workers must be from 1 to 1024, not 1000000"),
    (["--max-driver-lag-ms", "nan"], "error: --max-driver-lag-ms must be a number from 0.1 to 60000, not nan"),
])
def test_run_refuses_bad_flags_before_anything_starts(tmp_path: Path, args: list[str], expected: str) -> None:
    evidence = tmp_path / "runs"
    one_line(invoke("run", DRILL, "--env", ENV, "--evidence-dir", str(evidence), *args), 2, expected)
    assert not evidence.exists()


def test_run_refuses_an_evidence_dir_that_is_a_file(tmp_path: Path) -> None:
    path = tmp_path / "runs"
    path.write_text("not a directory")
    one_line(invoke("run", DRILL, "--env", ENV, "--evidence-dir", str(path)), 4,
             f"error: --evidence-dir {path} is not a directory (a file is in the way)")


def test_run_refuses_a_read_only_evidence_dir(tmp_path: Path) -> None:
    if os.geteuid() == 0:  # root writes through permission bits: /proc takes no new directory
        path = Path("/proc/chaos-evidence")
        expected = f"error: --evidence-dir {path} cannot be created: No such file or directory"
    else:
        path = tmp_path / "runs"
        path.mkdir(mode=0o555)
        expected = f"error: --evidence-dir {path} is not writable: Permission denied"
    one_line(invoke("run", DRILL, "--env", ENV, "--evidence-dir", str(path)), 4, expected)


def test_schema_out_at_a_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "schema.json"
    path.write_text("{}")
    one_line(invoke("schema", "--out", str(path)), 2,
             f"error: --out {path} is not a directory (a file is in the way)")


@pytest.mark.parametrize(("args", "expected"), [
    (["--tier", "Z"], "error: --tier must be one of L, G, X, not 'Z'"),
    (["--out", "FILE"], "error: --out FILE is not a directory (a file is in the way)"),
])
def test_report_refuses_bad_flags(tmp_path: Path, args: list[str], expected: str) -> None:
    file = tmp_path / "file.txt"
    file.write_text("x")
    args = [str(file) if a == "FILE" else a for a in args]
    one_line(invoke("report", str(tmp_path), *args), 2, expected.replace("FILE", str(file)))


def test_validate_refuses_deep_nesting_like_plan_and_run(tmp_path: Path) -> None:
    """About 1,000 nested brackets ended validate in a RecursionError traceback."""
    path = tmp_path / "deep.yaml"
    path.write_text("version: 1\nload: " + "[" * 1000 + "]" * 1000 + "\n")
    expected = f"{path}:2:71: load[0][0]...: the document nests deeper than 64 levels (the limit)"
    one_line(invoke("validate", str(path)), 2, expected)
    one_line(invoke("plan", str(path), "--env", ENV, "--no-preflight"), 2, expected)


def test_validate_prints_no_forged_line_for_a_name_with_a_newline(tmp_path: Path) -> None:
    path = tmp_path / "env.yaml"
    path.write_text(Path(ENV).read_text().replace("name: local", 'name: "local\\nok forged.yaml: environment"'))
    one_line(invoke("validate", str(path)), 2,
             f"{path}:{line_of(path, 'name: ')}:7: name: must not contain control characters (found '\\n')")


def test_validate_with_env_names_an_unset_variable(tmp_path: Path) -> None:
    """An unset `${VAR}` in http_fault is one line at validate --env and plan, as run refuses it."""
    path = tmp_path / "env.yaml"
    path.write_text(Path(ENV).read_text().replace(
        "http_fault: http://127.0.0.1:18091/admin/fault", 'http_fault: "${CHAOS_TEST_NO_SUCH_VAR}/admin/fault"'))
    expected = (f"{path}:{line_of(path, 'CHAOS_TEST_NO_SUCH_VAR')}:19: topology.providers.primary.http_fault: environment variable "
                "CHAOS_TEST_NO_SUCH_VAR is not set and has no default")
    assert invoke("validate", str(path)).exit_code == 0  # a template is fine on its own
    one_line(invoke("validate", "--env", str(path), DRILL), 2, expected)
    one_line(invoke("plan", DRILL, "--env", str(path), "--no-preflight"), 2, expected)
    result = invoke("run", DRILL, "--env", str(path), "--evidence-dir", str(tmp_path / "runs"))
    one_line(result, 2, expected)
    assert not (tmp_path / "runs").exists()


def test_validate_summarises_300_overlapping_faults(tmp_path: Path) -> None:
    path = tmp_path / "overlaps.yaml"
    faults = "".join(f"  - {{id: f{i}, scenario: provider_outage, target: primary, mode: down, "
                     f"at: 1m, for: 1m}}\n" for i in range(300))
    path.write_text(f"version: 1\nname: o\ntier: L\nduration: 5m\nload: {{streams: 1}}\nfaults:\n{faults}")
    result = invoke("validate", str(path))
    assert result.exit_code == 2
    assert len(result.output.splitlines()) == 21
    assert "... and 44,830 more like" in result.output


@pytest.mark.parametrize("make", ["fifo", "device", "directory", "bytes"])
def test_validate_refuses_unreadable_files_at_once(tmp_path: Path, make: str) -> None:
    """A FIFO (which blocked forever), /dev/zero (read until memory ran out), a directory and
    undecodable bytes: one line, exit 2, within seconds, in a real process."""
    path = tmp_path / "x.yaml"
    expected = {"fifo": "cannot read the file: it is a FIFO, not a regular file",
                "device": "cannot read the file: it is a character device, not a regular file",
                "directory": "cannot read the file: it is a directory, not a regular file",
                "bytes": "the file is not UTF-8 text: byte 0xff cannot be decoded; save the file as UTF-8"}[make]
    if make == "fifo":
        os.mkfifo(path)
    elif make == "device":
        path = Path("/dev/zero")
    elif make == "directory":
        path.mkdir()
    else:
        path.write_bytes(b"version: 1\nname: \xff\n")
        expected = "2:7: " + expected
    done = subprocess.run([sys.executable, "-m", "chaos", "validate", str(path)], capture_output=True,
                          text=True, timeout=60, check=False)
    assert done.returncode == 2, done.stderr
    assert done.stderr == ""
    sep = ":" if make == "bytes" else ": "
    assert done.stdout.splitlines() == [f"{path}{sep}{expected}"]
