"""The worker's view of its own health: event-loop lag and CPU use per window."""

from __future__ import annotations

import asyncio
import time

LAG_TICK_S = 0.010


def p99(values: list[float]) -> float:
    """The 99th percentile (nearest rank) of `values`; 0.0 when empty."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]


class LagMonitor:
    """Measures how late a 10 ms timer fires: the time a ready callback waits for the loop."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._lags_ms: list[float] = []
        self._due = 0.0
        self._handle: asyncio.TimerHandle | None = None

    def start(self) -> None:
        self._due = time.monotonic() + LAG_TICK_S
        self._handle = self._loop.call_later(LAG_TICK_S, self._tick)

    def _tick(self) -> None:
        now = time.monotonic()
        self._lags_ms.append(max(0.0, (now - self._due) * 1000.0))
        self._due = now + LAG_TICK_S
        self._handle = self._loop.call_later(LAG_TICK_S, self._tick)

    def take_p99_ms(self) -> float:
        """Lag p99 since the last call, in milliseconds."""
        value = p99(self._lags_ms)
        self._lags_ms = []
        return value

    def stop(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None


class CpuMeter:
    """This process's CPU use between calls, in percent of one core."""

    def __init__(self) -> None:
        self._cpu = time.process_time()
        self._wall = time.monotonic()

    def take_percent(self) -> float:
        cpu, wall = time.process_time(), time.monotonic()
        elapsed = wall - self._wall
        percent = 100.0 * (cpu - self._cpu) / elapsed if elapsed > 0 else 0.0
        self._cpu, self._wall = cpu, wall
        return percent
