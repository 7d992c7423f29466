"""Garbage-collector pacing for long-running, latency-sensitive processes (testbed components).

CPython's default schedule runs a full collection whenever the objects promoted to the oldest
generation since the last one reach a quarter of it. A process that holds 1,000 streams of ~10 s
promotes every stream's objects (coroutines, tasks, buffers, parser state) and so walks its whole
heap every few seconds: 70-150 ms pauses (measured on the testbed's router and gateway at 1,000
streams), which landed on the p95 first token. Here:

- the objects that exist once start-up is done (modules, config, metric registries) are frozen
  (`gc.freeze`): no collection walks them again;
- collections of the young generations stay automatic, on CPython's thresholds or on a larger
  first one (`young_threshold`) where the hot path makes almost no cyclic garbage: young
  collections then only walk live streams, and run once garbage has piled up;
- full collections run on a clock instead, every `full_interval_s`, so cyclic garbage that
  reached the old generation is still reclaimed and memory stays bounded. The hot paths avoid
  making such garbage (see `chaos.testbed.upstream`), so a rare full collection finds little.
"""

from __future__ import annotations

import gc
import time
from dataclasses import dataclass, field

import anyio

FULL_INTERVAL_S = 300.0
# Large enough that the automatic schedule never reaches a full collection between two paced ones.
_NO_AUTOMATIC_FULL = 1_000_000


@dataclass
class GCPacing:
    """Install after start-up, then run `run_forever()` in a background task."""

    full_interval_s: float = FULL_INTERVAL_S
    young_threshold: int | None = None  # None: CPython's own
    full_collections: int = 0
    max_full_pause_s: float = 0.0
    _saved: tuple[int, int, int] | None = field(default=None, repr=False)

    def install(self) -> None:
        self._saved = gc.get_threshold()
        gc.collect()
        gc.freeze()
        young = self._saved[0] if self.young_threshold is None else self.young_threshold
        gc.set_threshold(young, self._saved[1], _NO_AUTOMATIC_FULL)

    def uninstall(self) -> None:
        """Back to CPython's schedule (the frozen objects stay frozen, as they were at start-up)."""
        if self._saved is not None:
            gc.set_threshold(*self._saved)
            self._saved = None

    def collect_full(self) -> int:
        t0 = time.perf_counter()
        found = gc.collect()
        pause = time.perf_counter() - t0
        self.full_collections += 1
        self.max_full_pause_s = max(self.max_full_pause_s, pause)
        return found

    async def run_forever(self) -> None:
        while True:
            await anyio.sleep(self.full_interval_s)
            self.collect_full()
