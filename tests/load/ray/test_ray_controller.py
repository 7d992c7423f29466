"""The load controller with the Ray backend on a real two-node cluster: one worker per node,
windows merged like local ones, a killed worker recorded as lost while the other goes on,
and a coordinator killed with SIGKILL leaving no load behind within 10 s."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from collections import defaultdict
from pathlib import Path

import anyio
import pytest

from chaos.load import LoadConfig, LoadController, LoadSummary
from chaos.load.backends import BackendChoice
from chaos.recording import LoadWindow, MissingWindow, WorkerRecord
from tests.load.conftest import SSEServer
from tests.load.ray.conftest import LOAD_RESOURCE, RayCluster

pytestmark = [pytest.mark.ray, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[3]


def choice(cluster: RayCluster) -> BackendChoice:
    return BackendChoice(kind="ray", address=cluster.address, workers_per_node=1,
                         resources={LOAD_RESOURCE: 1}, strategy="STRICT_SPREAD")


def test_one_worker_on_each_node_and_the_merge_is_the_sum_of_its_workers(
    ray_cluster: RayCluster, sse_server: SSEServer,
) -> None:
    config = LoadConfig(url=sse_server.url(events=3), streams=8, hold_s=4.0, graceful_s=1.0,
                        workers=1, window_cuts_s=(2.5,))
    windows: list[LoadWindow] = []
    missing: list[MissingWindow] = []
    records: list[WorkerRecord] = []
    controller = LoadController(config, windows.append, missing.append, startup_s=1.0,
                                backend=choice(ray_cluster), on_worker=records.append)
    summary: LoadSummary = anyio.run(controller.run)

    final = {r.worker_id: r for r in controller.worker_records()}
    assert sorted(final) == ["w0", "w1"]  # workers_per_node x 2 nodes, not config.workers
    nodes = {r.node.split(" ", 1)[1] for r in final.values()}
    assert nodes == {f"[{LOAD_RESOURCE}, node_a]", f"[{LOAD_RESOURCE}, node_b]"}
    for r in final.values():
        assert r.backend == "ray"
        assert r.streams == 4
        assert r.lost_at is None
        assert r.clock_samples, "the clock offset is measured at start"
        assert abs(r.clock_samples[0][1]) < 0.1  # one host: the same clock

    assert not missing
    per_worker: dict[str, dict[int, LoadWindow]] = defaultdict(dict)
    for w in windows:
        per_worker[w.worker_id][w.seq] = w
    assert set(per_worker["w0"]) == set(per_worker["w1"])  # gapless on both nodes
    for seq, w0 in per_worker["w0"].items():
        w1 = per_worker["w1"][seq]
        if seq < max(per_worker["w0"]):  # the final window ends when each worker ends
            assert (w0.start, w0.end) == (w1.start, w1.end)  # one coordinator timeline
    # the phase cut at 2.5 s is a window edge on coordinator time for both workers
    assert any(abs(w.end - (summary.started_at + 2.5)) < 1e-6 for w in per_worker["w1"].values())
    ended = sum(sum(w.counts.values()) for w in windows)
    assert summary.requests_recorded == ended > 0
    assert summary.requests_started == sum(w.started for w in windows)
    assert summary.windows == len(windows)


def parent_pid(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


@pytest.mark.parametrize(("victim", "reason"), [
    ("worker process", "exited without finishing its share"),
    ("actor", "the actor died"),  # its worker process dies with it (PR_SET_PDEATHSIG)
])
def test_a_killed_worker_is_recorded_as_lost_and_the_other_goes_on(
    ray_cluster: RayCluster, sse_server: SSEServer, victim: str, reason: str,
) -> None:
    config = LoadConfig(url=sse_server.url(events=3), streams=8, hold_s=6.0, graceful_s=1.0,
                        workers=1)
    windows: list[LoadWindow] = []
    missing: list[MissingWindow] = []
    controller = LoadController(config, windows.append, missing.append, startup_s=1.0,
                                missing_after_s=1.0, backend=choice(ray_cluster))
    killed: list[float] = []

    async def main() -> LoadSummary:
        async with anyio.create_task_group() as tg:
            async def kill_w1() -> None:
                while not any(w.worker_id == "w1" and w.seq >= 1 for w in windows):  # noqa: ASYNC110  # waiting on forwarded windows
                    await anyio.sleep(0.05)
                pid = controller.worker_pids()[1]  # the process that drives w1's load
                os.kill(parent_pid(pid) if victim == "actor" else pid, signal.SIGKILL)
                killed.append(time.time())
            tg.start_soon(kill_w1)
            return await controller.run()

    summary = anyio.run(main)
    records = {r.worker_id: r for r in controller.worker_records()}
    lost = records["w1"]
    assert lost.lost_at is not None
    assert lost.lost_at >= killed[0]
    assert reason in (lost.lost_reason or ""), lost.lost_reason
    assert lost.node != records["w0"].node  # where it was lost: its own node
    received_w1 = [w.seq for w in windows if w.worker_id == "w1"]
    assert lost.last_seq == max(received_w1)
    assert records["w0"].lost_at is None
    # the survivor drove its share to the end; the lost one's later windows are gaps
    last_w0 = max(w.seq for w in windows if w.worker_id == "w0")
    assert last_w0 >= 6
    assert missing
    assert all(m.worker_id == "w1" and m.seq > lost.last_seq for m in missing)
    assert summary.missing_windows == len(missing)
    assert any(e.startswith("w1:") for e in summary.worker_errors)


COORDINATOR = textwrap.dedent("""
    import sys, anyio
    from chaos.load import LoadConfig, LoadController
    from chaos.load.backends import BackendChoice
    url, address, resource = sys.argv[1:4]
    config = LoadConfig(url=url, streams=8, hold_s=120.0, graceful_s=1.0, workers=1)
    backend = BackendChoice(kind="ray", address=address, workers_per_node=1,
                            resources={resource: 1}, strategy="STRICT_SPREAD")
    def window(w):
        print("window", w.worker_id, w.seq, flush=True)
    anyio.run(LoadController(config, window, startup_s=1.0, backend=backend).run)
""")


def test_sigkill_of_the_coordinator_stops_all_load_within_10s(
    ray_cluster: RayCluster, sse_server: SSEServer, tmp_path: Path,
) -> None:
    out = tmp_path / "coordinator.out"
    with out.open("wb") as sink:
        proc = subprocess.Popen(
            [sys.executable, "-c", COORDINATOR, sse_server.url(events=3), ray_cluster.address,
             LOAD_RESOURCE], stdout=sink, stderr=subprocess.STDOUT, cwd=REPO)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            text = out.read_text()
            if "window w0 1" in text and "window w1 1" in text:
                break
            assert proc.poll() is None, text
            time.sleep(0.1)
        else:
            pytest.fail(f"no windows from both workers: {out.read_text()}")
        before = sse_server.stats()["requests"]
        proc.kill()
        killed = time.monotonic()
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    # The load has stopped once no request reached the server for 2 s (every stats call is
    # one request of its own: they are not load).
    last_change, load, polls = killed, before, 1
    while time.monotonic() - last_change < 2.0:
        assert time.monotonic() - killed < 20, "load still running 20 s after the coordinator died"
        now_load = sse_server.stats()["requests"] - polls
        polls += 1
        if now_load != load:
            load, last_change = now_load, time.monotonic()
        time.sleep(0.05)
    assert last_change - killed <= 10.0, f"load went on {last_change - killed:.1f} s after the kill"
