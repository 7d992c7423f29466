"""Running one worker coroutine in-process, the way a backend would."""

from __future__ import annotations

import time
from collections.abc import Callable

import uvloop
from hdrh.histogram import HdrHistogram

from chaos.load import LoadConfig, StopSignal, WorkerShare, run
from chaos.recording import LoadWindow


def share_for(config: LoadConfig, *, start_in_s: float = 0.1) -> WorkerShare:
    return WorkerShare(
        config=config, worker_id="w0", worker_index=0, workers=1, stream_first=0,
        stream_count=config.streams if config.model == "closed" else 0,
        rate_per_s=config.rate_per_s, phase=0.0, max_in_flight=config.max_in_flight,
        start_wall=time.time() + start_in_s,
    )


def run_worker(
    config: LoadConfig, *, stop: StopSignal | None = None,
    during: Callable[[StopSignal], None] | None = None,
) -> list[LoadWindow]:
    """Run one worker to its end on uvloop and return its windows in order."""
    windows: list[LoadWindow] = []
    signal = stop or StopSignal()

    async def main() -> None:
        if during is not None:
            import asyncio

            asyncio.get_running_loop().call_soon(during, signal)
        await run(share_for(config), windows.append, signal)

    uvloop.run(main())
    return windows


def merged(windows: list[LoadWindow], field: str = "first_token_hist") -> HdrHistogram:
    total = HdrHistogram(1, 600_000_000, 3)
    for w in windows:
        if getattr(w, field):  # "" is a window without a value
            total.add(HdrHistogram.decode(getattr(w, field)))
    return total


def total(windows: list[LoadWindow], cls: str) -> int:
    return sum(w.counts[cls] for w in windows)


def recorded(windows: list[LoadWindow]) -> int:
    return sum(sum(w.counts.values()) for w in windows)
