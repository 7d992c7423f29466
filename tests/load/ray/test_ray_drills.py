"""Drills on the embedded testbed whose load comes from a real two-node Ray cluster (one
worker per node): the merged evidence equals the sum of its workers, window by window; a
worker killed mid-run is recorded and the drill cannot PASS on the shortfall; a coordinator
killed with SIGKILL leaves no load behind within 10 s and its watchdog reverts the fault."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from chaos.errors import ExitCode
from chaos.report import read_evidence
from chaos.report.reader import read_raw
from chaos.report.series import load_series
from chaos.run import RunOptions, run_drill_sync
from chaos.slo.scope import window_instant
from chaos.slo.verdict import Verdict
from chaos.spec import load_drill, load_environment
from tests.e2e.helpers import EXPERIMENTS, MAX_DRIVER_LAG_MS, proxies, proxies_clean, reset_testbed
from tests.load.ray.conftest import RayCluster
from tests.servers import wait_for
from tests.testbed_fixture import RunningTestbed, running_testbed

pytestmark = [pytest.mark.ray, pytest.mark.slow]

TIME_SCALE = 0.1  # 5 minutes -> 30 s
LOAD_SCALE = 0.25  # 100 streams -> 25 over the two workers


@pytest.fixture(scope="module")
def ray_testbed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningTestbed]:
    with running_testbed(tmp_path_factory) as tb:
        yield tb


@pytest.fixture
def ray_env(ray_testbed: RunningTestbed, ray_cluster: RayCluster, tmp_path: Path) -> Path:
    """The testbed's environment with `load: backend: ray` on the test cluster, testbed reset."""
    reset_testbed(ray_testbed)
    env: dict[str, Any] = yaml.safe_load(ray_testbed.env_path.read_text("utf-8"))
    env["load"] = ray_cluster.load_section()
    path = tmp_path / "environment-ray.yaml"
    path.write_text(yaml.safe_dump(env, sort_keys=False), "utf-8")
    return path


def router_requests(tb: RunningTestbed) -> float:
    text = httpx.get(f"{tb.base_url}/metrics", timeout=5).text
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.startswith("chat_requests_total{"))


def test_a_drill_from_two_ray_nodes_merges_to_the_sum_of_its_workers(
    ray_testbed: RunningTestbed, ray_env: Path, tmp_path: Path,
) -> None:
    drill_path = EXPERIMENTS / "provider-outage.yaml"
    options = RunOptions(time_scale=TIME_SCALE, load_scale=LOAD_SCALE, evidence_dir=tmp_path,
                         live=False, max_driver_lag_ms=MAX_DRIVER_LAG_MS, drill_path=drill_path,
                         env_path=ray_env)
    result = run_drill_sync(load_drill(drill_path), load_environment(ray_env), options)
    assert result.bundle is not None, result.reason
    assert result.state == "complete", result.reason
    assert proxies_clean(ray_testbed)
    evidence = read_evidence(result.bundle)
    rec = evidence.recording

    workers = {w.worker_id: w for w in rec.workers}
    assert sorted(workers) == ["w0", "w1"]
    assert {w.node.split(" ", 1)[1] for w in workers.values()} == {"[chaos_load, node_a]", "[chaos_load, node_b]"}
    assert all(w.backend == "ray" and w.lost_at is None and w.clock_samples for w in workers.values())
    assert sum(w.streams for w in workers.values()) == 25
    assert not rec.missing_windows

    # Window by window, the merged series is the sum of the two workers' windows.
    by_seq: dict[int, list[Any]] = defaultdict(list)
    for w in rec.windows:
        by_seq[w.seq].append(w)
    # Each worker's last window ends where it stopped: one that stopped a few milliseconds past
    # a second's edge closes a short, empty tail window the other may not have.
    last = max(by_seq)
    tail = by_seq[last] if len(by_seq[last]) == 1 else []
    assert all(w.end - w.start < 0.1 and not sum(w.counts.values()) for w in tail), tail
    assert all(len(ws) == 2 for seq, ws in by_seq.items() if not (tail and seq == last)), \
        "a window from each worker, every time"
    merged = {round(p.t): p for p in load_series(rec.windows)}
    for second, point in merged.items():
        parts = [w for w in rec.windows if int(w.start) == second]
        assert point.ended == sum(sum(w.counts.values()) for w in parts)
        assert point.started == sum(w.started for w in parts)
    # The evidence's totals and per-phase requests are the workers' sums too.
    doc = json.loads((result.bundle / "evidence.json").read_text("utf-8"))
    assert doc["load"]["counts"]["2xx"] == sum(w.counts.get("2xx", 0) for w in rec.windows) > 0
    for phase in evidence.report["phases"] if isinstance(evidence.report, dict) else ():
        inside = [w for w in rec.windows if phase["start"] <= window_instant(w.start, w.end) < phase["end"]]
        assert phase["requests"] == sum(sum(w.counts.values()) for w in inside), phase["scope"]
    assert result.verdict is Verdict.PASS, [c.reason for c in evidence.criteria if c.verdict is not Verdict.PASS]


def start_run(drill: str, env: Path, evidence_dir: Path) -> subprocess.Popen[bytes]:
    argv = [sys.executable, "-m", "chaos", "run", str(EXPERIMENTS / f"{drill}.yaml"), "--env", str(env),
            "--time-scale", str(TIME_SCALE), "--load-scale", str(LOAD_SCALE), "--evidence-dir",
            str(evidence_dir), "--max-driver-lag-ms", str(MAX_DRIVER_LAG_MS), "--no-live"]
    with (evidence_dir.parent / "chaos-run.out").open("wb") as out:
        return subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT,
                                env=os.environ | {"NO_COLOR": "1"})


def bundle_of(evidence_dir: Path) -> Path:
    found = [p for p in evidence_dir.iterdir() if p.is_dir()] if evidence_dir.is_dir() else []
    assert len(found) == 1, found
    return found[0]


def lines(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text("utf-8").splitlines() if line.endswith("}")]


def wait_for_both_workers(evidence_dir: Path, proc: subprocess.Popen[bytes], seq: int) -> dict[str, dict[str, Any]]:
    """The bundle's worker events, once both workers have sent window `seq`."""
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        assert proc.poll() is None, (evidence_dir.parent / "chaos-run.out").read_text()
        if evidence_dir.is_dir() and any(evidence_dir.iterdir()):
            bundle = bundle_of(evidence_dir)
            seen = {w["worker_id"] for w in lines(bundle / "windows.jsonl") if w["seq"] >= seq}
            events = {e["worker_id"]: e for e in lines(bundle / "events.jsonl") if e["kind"] == "load.worker"}
            if seen == {"w0", "w1"} and len(events) == 2:
                return events
        time.sleep(0.2)
    pytest.fail("both Ray workers never sent their windows: " + (evidence_dir.parent / "chaos-run.out").read_text())


def test_a_worker_killed_mid_run_is_recorded_and_the_shortfall_never_passes(
    ray_env: Path, tmp_path: Path,
) -> None:
    runs = tmp_path / "runs"
    proc = start_run("provider-outage", ray_env, runs)
    try:
        events = wait_for_both_workers(runs, proc, seq=3)
        victim = events["w1"]
        os.kill(int(victim["pid"]), signal.SIGKILL)  # the actor's process on its Ray node
        killed_at = time.time()
        proc.wait(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    output = (tmp_path / "chaos-run.out").read_text()
    assert proc.returncode == ExitCode.INCONCLUSIVE, output
    evidence = read_evidence(bundle_of(runs))  # complete and sealed: the manifest verifies
    assert evidence.state == "complete"
    lost = {w.worker_id: w for w in evidence.recording.workers}["w1"]
    assert lost.lost_at is not None
    assert killed_at <= lost.lost_at <= killed_at + 10
    assert lost.node == victim["node"]
    assert lost.last_seq is not None
    assert lost.last_seq >= 3
    assert any(e["kind"] == "load.worker_lost" for e in evidence.events)
    assert evidence.verdict is not Verdict.PASS
    later = [c for c in evidence.criteria if c.id.startswith("tier_") and c.window_start is not None
             and c.window_start >= lost.lost_at]
    assert later, "phases after the loss are judged"
    for c in later:
        assert c.verdict is Verdict.INCONCLUSIVE, c
        assert "short of plan" in c.reason
        assert "w1" in c.reason


def test_sigkill_of_the_coordinator_stops_the_load_within_10s_and_the_watchdog_reverts(
    ray_testbed: RunningTestbed, ray_env: Path, tmp_path: Path,
) -> None:
    runs = tmp_path / "runs"
    proc = start_run("provider-outage-down", ray_env, runs)
    try:
        wait_for_both_workers(runs, proc, seq=1)
        wait_for(lambda: any(n.endswith("-primary") and not p["enabled"] for n, p in proxies(ray_testbed).items()),
                 60, "the primary links cut by the drill")
        proc.kill()  # SIGKILL: no handler runs in the coordinator
        killed = time.monotonic()
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    wait_for(lambda: proxies_clean(ray_testbed), 10, "watchdog revert of the primary links")
    assert time.monotonic() - killed <= 10.0
    last_change, count = killed, router_requests(ray_testbed)
    while time.monotonic() - last_change < 2.0:  # quiet for 2 s: no load left
        assert time.monotonic() - killed < 20, "load still reaching the router 20 s after the kill"
        now = router_requests(ray_testbed)
        if now != count:
            count, last_change = now, time.monotonic()
        time.sleep(0.1)
    assert last_change - killed <= 10.0, f"load went on {last_change - killed:.1f} s after the kill"
    assert not (bundle_of(runs) / "evidence.json").exists()  # never a bundle that claims PASS
    assert read_raw(bundle_of(runs)).recording.complete is False
