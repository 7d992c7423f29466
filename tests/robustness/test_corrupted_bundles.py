"""`chaos report` and `chaos compare` on corrupted bundles: one line naming the file (and the
line of a bad row or byte), exit 2 or 4, never a traceback or exit 1."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from chaos.cli import app
from chaos.errors import ExitCode
from tests.robustness.bundles import killed_bundle, sealed_bundle, tmp_files


def _append(name: str, data: bytes) -> Callable[[Path], None]:
    def corrupt(bundle: Path) -> None:
        with (bundle / name).open("ab") as f:
            f.write(data)
    return corrupt


def _prepend(name: str, line: bytes) -> Callable[[Path], None]:
    def corrupt(bundle: Path) -> None:
        path = bundle / name
        path.write_bytes(line + b"\n" + path.read_bytes())
    return corrupt


# (case, sealed bundle?, corruption, text the one line must contain)
CASES = [
    ("evidence.json non-UTF-8", True, _append("evidence.json", b"\xff\xfe"), "evidence.json"),
    ("manifest non-UTF-8", True, _append("manifest.sha256", b"ab\xffcd\n"), "manifest.sha256"),
    ("manifest not sha256sum", True, _append("manifest.sha256", b"nonsense\n"), "manifest.sha256:"),
    ("evidence.json truncated", True, lambda b: (b / "evidence.json").write_text('{"schema": '),
     "evidence.json"),
    ("evidence.json a list", True, lambda b: (b / "evidence.json").write_text("[1, 2]"), "evidence.json"),
    ("samples non-UTF-8", False, _prepend("samples.jsonl", b'{"t": 1, "metric": "x\xff"}'),
     "samples.jsonl:1"),
    ("windows odd row (unknown field)", False, _prepend("windows.jsonl", b'{"run_id": "r", "bogus": 1}'),
     "windows.jsonl:1"),
    ("windows odd row (a list)", False, _prepend("windows.jsonl", b"[1, 2, 3]"), "windows.jsonl:1"),
    ("windows bad JSON mid-file", False, _prepend("windows.jsonl", b'{"run_id": '), "windows.jsonl:1"),
    ("faults odd row (no id)", False, _prepend("faults.jsonl", b'{"scenario": "x"}'), "faults.jsonl:1"),
    ("faults odd row (actions not a list)", False,
     _prepend("faults.jsonl", b'{"id": "f", "scenario": "s", "mode": "m", "target": "t", '
                              b'"scheduled_at": 1, "scheduled_end": 2, "actions": 5}'), "faults.jsonl:1"),
    ("run.json not an object", False, lambda b: (b / "run.json").write_text('"x"'), "run.json"),
    ("run.json bad number", False,
     lambda b: (b / "run.json").write_text('{"started_at": "soon", "state": "running"}'), "run.json"),
    ("inputs.json non-UTF-8", False, _append("inputs.json", b"\x80"), "inputs.json"),
]


@pytest.mark.parametrize(("case", "sealed", "corrupt", "names"), CASES, ids=[c[0] for c in CASES])
def test_report_on_a_corrupted_bundle_is_one_line_never_a_traceback(
    tmp_path: Path, case: str, sealed: bool, corrupt: Callable[[Path], None], names: str,
) -> None:
    bundle = (sealed_bundle if sealed else killed_bundle)(tmp_path / "runs")
    corrupt(bundle)
    result = CliRunner().invoke(app, ["report", str(bundle)])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert result.exit_code in (ExitCode.USAGE, ExitCode.INFRASTRUCTURE), result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    assert lines[0].startswith("error:"), lines[0]
    assert names in lines[0], lines[0]
    assert "Traceback" not in result.output
    assert not tmp_files(tmp_path)


@pytest.mark.parametrize("kind", ["fifo", "device", "directory"])
def test_an_unreadable_evidence_json_is_one_line_exit_4(tmp_path: Path, kind: str) -> None:
    """evidence.json that is a FIFO (a read would block forever), a device (never ends) or a
    directory: one line naming it, exit 4, at once."""
    bundle = sealed_bundle(tmp_path / "runs")
    path = bundle / "evidence.json"
    path.unlink()
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "device":
        path.symlink_to("/dev/zero")
    else:
        path.mkdir()
    proc = subprocess.run([sys.executable, "-m", "chaos", "report", str(bundle)],
                          capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == ExitCode.INFRASTRUCTURE, proc.stderr
    assert "Traceback" not in proc.stderr
    assert proc.stdout == ""
    assert proc.stderr.count("\n") == 1, proc.stderr
    assert "evidence.json: cannot read" in proc.stderr, proc.stderr


def test_a_subprocess_report_on_a_corrupted_bundle_prints_one_line(tmp_path: Path) -> None:
    """The installed entry point too: nothing but the one line on stderr."""
    bundle = killed_bundle(tmp_path / "runs")
    _prepend("windows.jsonl", b'{"unexpected": true}')(bundle)
    proc = subprocess.run([sys.executable, "-m", "chaos", "report", str(bundle)],
                          capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == ExitCode.USAGE, proc.stderr
    assert proc.stdout == ""
    assert proc.stderr.count("\n") == 1, proc.stderr
    assert "windows.jsonl:1" in proc.stderr, proc.stderr


def test_compare_with_a_corrupted_bundle_is_one_line(tmp_path: Path) -> None:
    good = sealed_bundle(tmp_path / "a")
    bad = sealed_bundle(tmp_path / "b")
    _append("evidence.json", b"\xff")(bad)
    result = CliRunner().invoke(app, ["compare", str(good), str(bad)])
    assert result.exit_code == ExitCode.INFRASTRUCTURE, result.output
    # A manifest mismatch is one error line, then each file that differs (chaos report's form).
    first, *files = result.output.strip().splitlines()
    assert first.startswith("error:"), result.output
    assert "manifest check failed" in first, result.output
    assert files == ["  evidence.json: sha256 differs from the manifest (the file was changed)"]


def test_a_killed_bundle_whose_sealing_was_cut_short_is_judged_again(tmp_path: Path) -> None:
    """evidence.json written but no manifest (the disk filled while sealing): `chaos report`
    judges the recording again and seals the bundle, never calls it finished."""
    bundle = sealed_bundle(tmp_path / "runs")
    (bundle / "manifest.sha256").unlink()
    (bundle / "junit.xml").unlink()
    result = CliRunner().invoke(app, ["report", str(bundle), "--format", "plain"])
    assert result.exit_code in (ExitCode.FAIL, ExitCode.INCONCLUSIVE), result.output
    assert "incomplete bundle" in result.output
    assert (bundle / "manifest.sha256").is_file()
    assert (bundle / "junit.xml").is_file()


def test_report_out_on_a_read_only_target_is_one_line(tmp_path: Path) -> None:
    """`--out` at a directory that refuses files: one line, exit 4, nothing half-written."""
    bundle = sealed_bundle(tmp_path / "runs")
    out = tmp_path / "ro"
    out.mkdir()
    ro = _read_only_mount(out)
    try:
        result = CliRunner().invoke(app, ["report", str(bundle), "--out", str(out)])
    finally:
        ro()
    assert result.exit_code in (ExitCode.USAGE, ExitCode.INFRASTRUCTURE), result.output
    assert len(result.output.strip().splitlines()) == 1, result.output
    assert "Traceback" not in result.output
    shutil.rmtree(out, ignore_errors=True)


def _read_only_mount(path: Path) -> Callable[[], None]:
    """Bind-mount `path` read-only onto itself (root only); returns the undo."""
    if os.geteuid() != 0:
        pytest.skip("needs root for a read-only bind mount")
    done = subprocess.run(["mount", "--bind", str(path), str(path)], capture_output=True, check=False)
    if done.returncode != 0:
        pytest.skip(f"cannot bind-mount: {done.stderr.decode().strip()}")
    subprocess.run(["mount", "-o", "remount,ro,bind", str(path)], check=True, capture_output=True)

    def undo() -> None:
        subprocess.run(["umount", str(path)], check=True, capture_output=True)

    return undo
