"""An evidence directory that cannot take the bundle: a tiny tmpfs is refused before anything
starts (or, without preflight, the run stops at once with one line); a tmpfs that fills up
mid-fault stops the drill, reverts its fault and still yields a sealed bundle with a verdict;
no `.tmp` file is ever left behind and no traceback reaches the user."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from chaos.errors import ExitCode
from chaos.report.manifest import verify_manifest
from tests.e2e.helpers import proxies, proxies_clean
from tests.robustness.bundles import tmp_files
from tests.robustness.commands import chaos, finish, no_traceback, only_bundle, run_args, start
from tests.servers import wait_for
from tests.testbed_fixture import RunningTestbed

pytestmark = pytest.mark.slow


@contextmanager
def tmpfs(path: Path, size: str) -> Iterator[Path]:
    """A tmpfs of `size` mounted at `path` (root only; skipped where mounting is refused)."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    path.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs: {done.stderr.strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], capture_output=True, check=False)


def fill(directory: Path) -> Path:
    """Write zeros into `directory` until its file system is full; returns the filler."""
    filler = directory / "filler"
    with filler.open("wb") as f:
        block = b"\0" * 65536
        try:
            while True:
                f.write(block)
                f.flush()
        except OSError:
            pass
    return filler


def primary_cut(tb: RunningTestbed) -> bool:
    try:
        return any(name.endswith("-primary") and not p["enabled"] for name, p in proxies(tb).items())
    except httpx.HTTPError:
        return False


def test_a_300k_evidence_directory_is_refused_by_preflight_in_one_line(
    testbed: RunningTestbed, tmp_path: Path,
) -> None:
    with tmpfs(tmp_path / "tiny", "300k") as tiny:
        done = chaos(*run_args(testbed, tiny)[3:], timeout_s=240)
        no_traceback(done.stdout + done.stderr)
        assert done.returncode == ExitCode.INFRASTRUCTURE, done.stderr
        assert done.stdout == ""
        (line,) = done.stderr.strip().splitlines()
        assert line.startswith("error: preflight_failed: FAIL evidence: evidence directory "), line
        assert "MB free, the bundle needs about" in line
        assert "choose another --evidence-dir" in line
        assert list(tiny.iterdir()) == []  # nothing started, nothing written


def test_a_300k_evidence_directory_without_preflight_refuses_or_seals(
    testbed: RunningTestbed, tmp_path: Path,
) -> None:
    """--no-preflight skips the room check: the bundle's seal reserve does not fit, so the run
    is refused at once (or, were it to fit, ends sealed): never a traceback or a .tmp file."""
    with tmpfs(tmp_path / "tiny", "300k") as tiny:
        done = chaos(*run_args(testbed, tiny, "--no-preflight")[3:], timeout_s=240)
        text = done.stdout + done.stderr
        no_traceback(text)
        assert done.returncode == ExitCode.INFRASTRUCTURE, text
        assert not tmp_files(tiny)
        bundles = [p for p in tiny.iterdir() if p.is_dir()]
        if not bundles:
            (line,) = done.stderr.strip().splitlines()
            assert line.startswith("error: preflight_failed: evidence "), line
            assert "cannot create the bundle: No space left on device (ENOSPC)" in line
        else:
            verify_manifest(bundles[0])
            assert json.loads((bundles[0] / "evidence.json").read_text())["verdict"] != "PASS"
    assert proxies_clean(testbed)


def test_a_disk_that_fills_mid_fault_stops_the_drill_reverts_and_seals_a_verdict(
    testbed: RunningTestbed, tmp_path: Path,
) -> None:
    with tmpfs(tmp_path / "mid", "8m") as mid:
        out = tmp_path / "run.out"
        proc = start(run_args(testbed, mid), out)
        try:
            wait_for(lambda: primary_cut(testbed), 90, "the primary links cut by the drill")
            filler = fill(mid)
            code = finish(proc, 180)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        text = out.read_text()
        no_traceback(text)
        assert code == ExitCode.INFRASTRUCTURE, text
        assert proxies_clean(testbed)  # the fault was reverted
        assert not tmp_files(mid)
        bundle = only_bundle(mid)
        errors = [line for line in text.splitlines() if line.startswith("error:")]
        assert len(errors) == 1, text
        assert errors[0].startswith("error: run infrastructure_error: evidence "), errors[0]
        assert "No space left on device (ENOSPC)" in errors[0]
        # The small files were written first, from what was recorded: a verdict despite the disk.
        verify_manifest(bundle)
        evidence = json.loads((bundle / "evidence.json").read_text())
        assert evidence["state"] == "infrastructure_error"
        assert evidence["verdict"] != "PASS"
        assert "ENOSPC" in evidence["aborted"]
        assert (bundle / "summary.md").is_file()
        assert (bundle / "junit.xml").is_file()
        (fault,) = evidence["faults"]
        assert fault["reverted_at"] is not None
        assert not (bundle / ".seal-reserve").exists()

        # Room again: `chaos report` re-judges the bundle and renders what did not fit.
        filler.unlink()
        report = chaos("report", str(bundle), "--out", str(tmp_path / "again"), "--format", "plain")
        no_traceback(report.stdout + report.stderr)
        assert report.returncode in (ExitCode.FAIL, ExitCode.INCONCLUSIVE), report.stderr
        assert "same verdicts as the run" in report.stdout
        assert (tmp_path / "again" / "report.html").is_file()
