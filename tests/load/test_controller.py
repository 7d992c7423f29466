"""The controller: worker processes, forwarding, missing windows, stop, refusals."""

from __future__ import annotations

import os
import resource
import signal
import time

import anyio
import pytest

import chaos.load
from chaos.errors import LoadError
from chaos.load import PROFILES, LoadConfig, LoadController, LoadSummary
from chaos.recording import LoadWindow, MissingWindow
from tests.load.conftest import SSEServer


def test_public_exports_exist() -> None:
    for name in chaos.load.__all__:
        assert hasattr(chaos.load, name), name
    assert {k: p.streams for k, p in PROFILES.items()} == {"m1_1k": 1000, "m2_5k": 5000, "m3_20k": 20000}
    assert all(p.model == "closed" for p in PROFILES.values())


def test_targets_outside_allowed_hosts_are_refused() -> None:
    with pytest.raises(LoadError, match="not among the allowed hosts"):
        LoadController(LoadConfig(url="http://203.0.113.9/api/chat"), lambda w: None)
    with pytest.raises(LoadError, match="not among the allowed hosts"):
        LoadController(LoadConfig(url="http://127.0.0.1:1/x", allowed_hosts=("gw.local",)), lambda w: None)


def test_more_streams_per_worker_than_the_fd_hard_limit_is_a_clear_error() -> None:
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    if hard == resource.RLIM_INFINITY:
        pytest.skip("no hard file-descriptor limit on this machine")
    config = LoadConfig(url="http://127.0.0.1:1/x", streams=hard, workers=1)
    with pytest.raises(LoadError, match="hard limit"):
        anyio.run(LoadController(config, lambda w: None).run)


def _run(config: LoadConfig, **kw: object) -> tuple[LoadSummary, list[LoadWindow], list[MissingWindow], int]:
    """Run a controller inside a task group next to a ticking task; returns the ticks seen."""
    windows: list[LoadWindow] = []
    missing: list[MissingWindow] = []
    ticks = 0
    result: list[LoadSummary] = []

    async def main() -> None:
        nonlocal ticks
        controller = LoadController(config, windows.append, missing.append, startup_s=1.0, **kw)  # type: ignore[arg-type]

        async def drive() -> None:
            result.append(await controller.run())
            tg.cancel_scope.cancel()

        async with anyio.create_task_group() as tg:
            tg.start_soon(drive)
            while True:  # the controller must not block the event loop it shares
                await anyio.sleep(0.05)
                ticks += 1

    anyio.run(main)
    return result[0], windows, missing, ticks


def test_two_workers_forward_gapless_windows_and_balanced_totals(sse_server: SSEServer) -> None:
    config = LoadConfig(url=sse_server.url(events=2, interval_ms=10), streams=40, ramp_up_s=0.5,
                        hold_s=2.0, graceful_s=2.0, workers=2, run_id="r-test")
    started = time.monotonic()
    summary, windows, missing, ticks = _run(config)
    elapsed = time.monotonic() - started
    assert missing == []
    assert ticks >= elapsed / 0.05 * 0.5  # the shared loop kept running
    by_worker: dict[str, list[int]] = {}
    for w in windows:
        assert w.run_id == "r-test"
        by_worker.setdefault(w.worker_id, []).append(w.seq)
    assert sorted(by_worker) == ["w0", "w1"]
    for seqs in by_worker.values():
        assert sorted(seqs) == list(range(len(seqs)))
    assert summary.requests_started > 100
    assert summary.requests_started == summary.requests_recorded + summary.cancelled
    assert summary.counts["2xx"] == summary.requests_recorded
    assert summary.windows == len(windows)


def test_stop_ramps_down_at_once_and_cancels_what_outlives_the_grace(sse_server: SSEServer) -> None:
    config = LoadConfig(url=sse_server.url(events=200, interval_ms=100), streams=6, hold_s=60.0,
                        graceful_s=0.5, workers=2)
    windows: list[LoadWindow] = []

    async def main() -> LoadSummary:
        controller = LoadController(config, windows.append, startup_s=0.5)
        async with anyio.create_task_group() as tg:
            async def stop_when_streaming() -> None:
                while controller.statistics().in_flight < 6:  # noqa: ASYNC110  # statistics() is a polled view
                    await anyio.sleep(0.05)
                controller.stop()
            tg.start_soon(stop_when_streaming)
            return await controller.run()

    started = time.monotonic()
    summary = anyio.run(main)
    assert time.monotonic() - started < 15
    assert summary.stopped_early
    assert summary.requests_started == 6
    assert summary.cancelled == 6
    assert summary.requests_recorded == 0


def test_a_silent_worker_has_its_windows_marked_missing(sse_server: SSEServer) -> None:
    config = LoadConfig(url=sse_server.url(events=1), streams=4, hold_s=6.0, graceful_s=1.0, workers=2)
    windows: list[LoadWindow] = []
    missing: list[MissingWindow] = []

    async def main() -> LoadSummary:
        controller = LoadController(config, windows.append, missing.append, startup_s=0.5,
                                    missing_after_s=1.0)
        async with anyio.create_task_group() as tg:
            async def freeze_one_worker() -> None:
                while not any(w.worker_id == "w1" for w in windows):  # noqa: ASYNC110  # waiting on forwarded windows
                    await anyio.sleep(0.05)
                pid = controller.worker_pids()[1]
                os.kill(pid, signal.SIGSTOP)
                try:
                    while not missing:  # noqa: ASYNC110  # waiting on the controller's deadline
                        await anyio.sleep(0.05)
                finally:
                    os.kill(pid, signal.SIGCONT)
            tg.start_soon(freeze_one_worker)
            return await controller.run()

    summary = anyio.run(main)
    assert missing
    assert all(m.worker_id == "w1" for m in missing)
    assert summary.missing_windows == len(missing)


def test_the_load_starts_at_the_instant_the_caller_gives(sse_server: SSEServer) -> None:
    """The orchestrator schedules faults from its own load-start instant and hands it over."""
    config = LoadConfig(url=sse_server.url(events=1), streams=4, hold_s=1.0, graceful_s=1.0,
                        workers=1)
    windows: list[LoadWindow] = []
    start_wall = time.time() + 1.5

    async def main() -> LoadSummary:
        return await LoadController(config, windows.append, startup_s=0.2).run(start_wall=start_wall)

    summary = anyio.run(main)
    assert summary.started_at == start_wall
    assert windows
    first = min(windows, key=lambda w: w.start)
    assert abs(first.start - start_wall) < 0.05, (first.start, start_wall)
