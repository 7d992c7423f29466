"""The Toxiproxy of the environment SIGKILLed while a provider-outage fault holds its proxies
disabled: the run retries the revert until its deadline, then ends with exit 4, one error line,
the actions still applied and the command that finishes them, and a sealed bundle in state
revert_failed. `chaos cleanup` says when Toxiproxy came back without its proxies, and reverts
once they are back."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from chaos.errors import ExitCode
from chaos.report.manifest import verify_manifest
from chaos.testbed import load_state, restart_component
from tests.e2e.helpers import proxies, proxies_clean
from tests.robustness.bundles import tmp_files
from tests.robustness.commands import chaos, finish, no_traceback, only_bundle, run_args, start
from tests.servers import require_binary, wait_for
from tests.testbed_fixture import RunningTestbed

pytestmark = pytest.mark.slow

REVERT_DEADLINE_S = 5


def primary_cut(tb: RunningTestbed) -> bool:
    try:
        return any(name.endswith("-primary") and not p["enabled"] for name, p in proxies(tb).items())
    except httpx.HTTPError:
        return False


def verified_applies(runs: Path) -> int:
    """Primitives the run's write-ahead journal says were applied and verified. (A proxy seen
    disabled may still be mid-apply: Toxiproxy killed then, the action is rightly recorded
    as unverified, which is not what this test is about.)"""
    count = 0
    for journal in runs.glob("*/faults.journal.jsonl"):
        for line in journal.read_text().splitlines():
            with contextlib.suppress(ValueError):  # the line being written
                count += json.loads(line).get("type") == "applied"
    return count


def test_toxiproxy_sigkilled_mid_fault_ends_revert_failed_and_cleanup_finishes_it(
    testbed: RunningTestbed, tmp_path: Path,
) -> None:
    runs, out = tmp_path / "runs", tmp_path / "run.out"
    toxiproxy = load_state(testbed.state_path).components["toxiproxy"]
    began = time.monotonic()
    proc = start(run_args(testbed, runs), out, CHAOS_REVERT_DEADLINE_S=str(REVERT_DEADLINE_S))
    try:
        wait_for(lambda: primary_cut(testbed) and verified_applies(runs) == 2, 90,
                 "both primary links cut and verified by the drill")
        os.kill(toxiproxy.pid, signal.SIGKILL)
        code = finish(proc, 180)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    text = out.read_text()
    no_traceback(text)
    assert code == ExitCode.INFRASTRUCTURE, text
    assert time.monotonic() - began < 150, "the run must end within its length and the revert deadline"

    bundle = only_bundle(runs)
    errors = [line for line in text.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, text
    assert errors[0].startswith("error: run revert_failed: "), errors[0]
    assert "2 fault action(s) still applied" in errors[0]
    assert f"chaos cleanup --run {bundle}" in errors[0]
    assert "  primary-down  toxiproxy.disable  us-east-primary" in text
    assert "  primary-down  toxiproxy.disable  us-west-primary" in text
    assert f"finish the job once the component is back: chaos cleanup --run {bundle}" in text

    # The bundle is sealed from what was recorded, with the state and the reason.
    assert json.loads((bundle / "run.json").read_text())["state"] == "revert_failed"
    evidence = json.loads((bundle / "evidence.json").read_text())
    assert evidence["state"] == "revert_failed"
    assert evidence["verdict"] != "PASS"
    assert "still applied" in evidence["aborted"]
    for name in ("summary.md", "junit.xml", "manifest.sha256", "debug.log"):
        assert (bundle / name).is_file(), name
    verify_manifest(bundle)
    assert not tmp_files(runs)
    assert "Traceback" in (bundle / "debug.log").read_text()  # the details are in the bundle
    (fault,) = evidence["faults"]
    for action in fault["actions"]:
        assert action["applied_at"] is not None
        assert action["apply_s"] is not None  # apply latency is evidence
        assert action["reverted_at"] is None
        assert action["error"]
    events = [json.loads(line) for line in (bundle / "events.jsonl").read_text().splitlines()]
    (event,) = [e for e in events if e["kind"] == "revert_failed"]
    assert {a["target"] for a in event["actions"]} == {"us-east-primary", "us-west-primary"}
    assert [a["verified"] for a in event["actions"]] == [True, True]  # both applies were verified
    assert "never verified" not in text

    # Still down: cleanup cannot reach it, says so, exits non-zero.
    down = chaos("cleanup", "--run", str(bundle), timeout_s=120)
    no_traceback(down.stdout + down.stderr)
    assert down.returncode == ExitCode.INFRASTRUCTURE, down.stderr
    assert down.stderr.count("NOT reverted: ") == 2, down.stderr
    assert "cleanup incomplete: 0 action(s) done, 2 not" in down.stderr

    # Back, but without its state: a bare toxiproxy-server on the same port has no proxies.
    port = testbed.config.ports.toxiproxy
    bare = subprocess.Popen([require_binary("toxiproxy-server"), "-host", "127.0.0.1", "-port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: _answers(testbed), 20, "the bare Toxiproxy answering")
        lost = chaos("cleanup", "--run", str(bundle), timeout_s=120)
        no_traceback(lost.stdout + lost.stderr)
        assert lost.returncode == ExitCode.INFRASTRUCTURE, lost.stderr
        assert "has no proxy us-east-primary (restarted without its proxies?)" in lost.stderr
        assert "has no proxy us-west-primary (restarted without its proxies?)" in lost.stderr
        assert "cleanup done" not in lost.stdout
        env_clean = chaos("cleanup", "--env", str(testbed.env_path), timeout_s=120)
        assert env_clean.returncode == ExitCode.INFRASTRUCTURE, env_clean.stderr
        assert "proxy(ies) the environment names are missing" in env_clean.stderr
    finally:
        bare.terminate()
        bare.wait(timeout=10)

    # Back with its proxies (the testbed re-creates them): cleanup reverts and closes the journal.
    restart_component(testbed.state_path, "toxiproxy")
    back = chaos("cleanup", "--run", str(bundle), timeout_s=120)
    no_traceback(back.stdout + back.stderr)
    assert back.returncode == ExitCode.PASS, back.stdout + back.stderr
    assert "reverted (targeted) primary-down: " in back.stdout
    assert "cleanup done: 2 action(s)" in back.stdout
    assert proxies_clean(testbed)
    again = chaos("cleanup", "--run", str(bundle), timeout_s=60)
    assert again.returncode == ExitCode.PASS
    assert "cleanup done: 0 action(s)" in again.stdout


def _answers(tb: RunningTestbed) -> bool:
    try:
        proxies(tb)
    except httpx.HTTPError:
        return False
    return True
