"""Bounded provider concurrency: a FIFO queue of waiters whose oldest-job age is measured."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

import anyio


class QueueTimeout(Exception):
    """A request waited for a provider slot longer than the bound."""


@dataclass
class _Waiter:
    enqueued_at: float
    event: anyio.Event
    granted: bool = False


@dataclass(frozen=True)
class SlotStatistics:
    capacity: int
    in_use: int
    queue_depth: int
    oldest_age_s: float


class ProviderSlots:
    """At most `capacity` provider calls at once; the rest wait in FIFO order up to a timeout."""

    def __init__(self, capacity: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.capacity = capacity
        self._clock = clock
        self._in_use = 0
        self._waiters: deque[_Waiter] = deque()

    async def acquire(self, timeout_s: float) -> None:
        if self._in_use < self.capacity and not self._waiters:
            self._in_use += 1
            return
        waiter = _Waiter(self._clock(), anyio.Event())
        self._waiters.append(waiter)
        try:
            with anyio.move_on_after(timeout_s):
                await waiter.event.wait()
        except BaseException:
            self._abandon(waiter)
            raise
        if not waiter.granted:
            self._abandon(waiter)
            raise QueueTimeout(f"no provider slot within {timeout_s:g}s")

    def _abandon(self, waiter: _Waiter) -> None:
        if waiter.granted:
            self.release()  # granted just as we gave up: pass the slot on
        else:
            self._waiters.remove(waiter)

    def release(self) -> None:
        if self._waiters:
            waiter = self._waiters.popleft()
            waiter.granted = True  # Invariant: the slot moves to the waiter, in_use unchanged
            waiter.event.set()
        else:
            self._in_use -= 1

    def statistics(self) -> SlotStatistics:
        oldest = self._clock() - self._waiters[0].enqueued_at if self._waiters else 0.0
        return SlotStatistics(self.capacity, self._in_use, len(self._waiters), oldest)
