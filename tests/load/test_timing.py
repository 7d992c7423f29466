"""Timing to the contract: first-token accuracy at 1,000 streams, and the open model charging
a server stall to the requests that were due during it (no coordinated omission)."""

from __future__ import annotations

import anyio
import httpx
import pytest

from chaos.load import LoadConfig, LoadController
from chaos.recording import LoadWindow
from tests.load.conftest import SSEServer, start_sse_server
from tests.load.helpers import merged


def test_first_token_of_a_200ms_server_is_measured_within_5ms_at_p99_with_1000_streams() -> None:
    """A dedicated server process sends the first event after exactly 200 ms. If the p99
    error exceeds 5 ms, the message carries the driver's own loop lag and CPU and the
    server's lateness, which on a contended machine explain where the error came from."""
    server = start_sse_server()
    try:
        config = LoadConfig(url=server.url(first_ms=200, events=2, interval_ms=100), streams=1000,
                            ramp_up_s=2.0, hold_s=5.0, graceful_s=2.0, workers=2)
        windows: list[LoadWindow] = []
        anyio.run(LoadController(config, windows.append, startup_s=1.5).run)
        stats = httpx.get(f"{server.base}/admin/stats", timeout=5).json()
    finally:
        server.process.terminate()
        server.process.wait(timeout=10)
    # Steady state: the windows after the ramp-up (connection set-up is part of ramp-up).
    steady = [w for w in windows if w.start >= windows[0].start + config.ramp_up_s + 2]
    hist = merged(steady)
    assert hist.get_total_count() > 1000
    p50_ms = hist.get_value_at_percentile(50) / 1000
    p99_ms = hist.get_value_at_percentile(99) / 1000
    lag_ms = max(w.loop_lag_p99_ms for w in steady)
    cpu = max(w.cpu_percent for w in steady)
    server_late_ms = float(stats["first_event_late_p99_ms"])
    server_late_max_ms = float(stats["first_event_late_max_ms"])
    figures = (
        f"first-token p99 {p99_ms:.1f} ms (p50 {p50_ms:.1f}) for a 200 ms server; driver loop lag "
        f"p99 up to {lag_ms:.1f} ms, CPU up to {cpu:.0f}%; server first-event lateness p99 "
        f"{server_late_ms:.1f} ms (max {server_late_max_ms:.1f} ms)"
    )
    assert p50_ms >= 200.0, figures
    # Always: the error is no more than what the server's lateness and the driver's own
    # measured lag explain (the driver adds nothing it does not report).
    assert p99_ms - 200.0 <= 5.0 + server_late_max_ms + lag_ms, figures
    contended = any(w.saturated for w in steady) or server_late_ms > 1.0
    if p99_ms - 200.0 > 5.0 and contended:
        # The driver flags these windows saturated (their latency criteria are INCONCLUSIVE
        # by contract); the strict 5 ms claim cannot be judged on a machine this busy.
        pytest.xfail(f"machine contended, strict 5 ms check not judged: {figures}")
    assert p99_ms - 200.0 <= 5.0, figures


def test_open_model_charges_a_one_second_stall_to_the_requests_due_during_it(sse_server: SSEServer) -> None:
    rate = 50.0
    config = LoadConfig(url=sse_server.url(events=1), model="open", rate_per_s=rate, max_in_flight=500,
                        hold_s=4.0, graceful_s=3.0, workers=1)
    windows: list[LoadWindow] = []

    async def main() -> None:
        controller = LoadController(config, windows.append, startup_s=0.5)
        async with anyio.create_task_group() as tg:
            async def stall_once() -> None:
                while controller.statistics().requests_ended < 50:  # noqa: ASYNC110  # polled view
                    await anyio.sleep(0.05)
                async with httpx.AsyncClient() as client:
                    await client.get(f"{sse_server.base}/admin/stall?ms=1000")
            tg.start_soon(stall_once)
            await controller.run()

    anyio.run(main)
    hist = merged(windows)
    total = hist.get_total_count()
    assert sum(w.dropped for w in windows) == 0
    assert abs(total - rate * 4.0) <= 3
    # ~50 requests were due during the stall: their latency, from the intended start, spreads
    # evenly over (0, 1 s]; about half waited more than 500 ms. Unstalled requests take ~1 ms.
    waited = [v for v in _values(hist) if v > 100_000]
    over_half = [v for v in waited if v > 500_000]
    assert 40 <= len(waited) <= 60, len(waited)
    assert 17 <= len(over_half) <= 33, len(over_half)
    assert max(waited) >= 900_000


def _values(hist: object) -> list[int]:
    """Every recorded value (with multiplicity) of an HDR histogram."""
    out: list[int] = []
    for item in hist.get_recorded_iterator():  # type: ignore[attr-defined]
        out.extend([item.value_iterated_to] * item.count_at_value_iterated_to)
    return out
