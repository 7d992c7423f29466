"""The fault scheduler: applies each drill fault at its offset and reverts it at its end
(several may overlap); a revert always runs, shielded, even when the run is cancelled."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from datetime import timedelta

import anyio

from chaos.faults import FaultSession
from chaos.recording import FaultRecord
from chaos.spec import FaultWindow, Timeline


async def sleep_until(deadline_monotonic: float) -> None:
    delay = deadline_monotonic - time.monotonic()
    if delay > 0:
        await anyio.sleep(delay)


class FaultScheduler:
    """Runs the timeline's faults against `session`; offsets count from the load start."""

    def __init__(
        self,
        session: FaultSession,
        timeline: Timeline,
        *,
        load_start_monotonic: float,
        load_start_wall: float,
        on_record: Callable[[FaultRecord], None],
        hold: Callable[[FaultWindow], Awaitable[bool]] | None = None,
    ) -> None:
        self._session = session
        self._timeline = timeline
        self._start_mono = load_start_monotonic
        self._start_wall = load_start_wall
        self._on_record = on_record
        self._hold = hold  # waits before a fault; False: the run stops, the fault is not applied
        self._active: dict[str, float] = {}  # fault id -> scheduled end (wall clock)

    def active(self) -> dict[str, float]:
        """Faults applied and not yet reverted, with their scheduled end (wall clock)."""
        return dict(self._active)

    def records(self) -> list[FaultRecord]:
        return self._session.records()

    async def run(self) -> None:
        async with anyio.create_task_group() as tg:
            for window in self._timeline.faults:
                tg.start_soon(self._one, window)

    async def _one(self, window: FaultWindow) -> None:
        await sleep_until(self._start_mono + window.start_s)
        held_s = 0.0  # a hold delays the fault and its end alike
        if self._hold is not None:
            if not await self._hold(window):
                return
            held_s = max(0.0, time.monotonic() - (self._start_mono + window.start_s))
        start_s, end_s = window.start_s + held_s, window.end_s + held_s
        # The session records the fault's scheduled window from `at`/`for`: give it the
        # compressed ones, so the journal and evidence show what actually ran.
        fault = window.fault.model_copy(
            update={"at": timedelta(seconds=start_s), "for_": timedelta(seconds=end_s - start_s)}
        )
        self._active[fault.id] = self._start_wall + end_s
        try:
            record = await self._session.apply(fault, scheduled_at=self._start_wall + start_s)
            self._on_record(record)
            await sleep_until(self._start_mono + end_s)
        finally:
            with anyio.CancelScope(shield=True):
                self._active.pop(fault.id, None)
                if any(r.id == fault.id for r in self._session.records()):
                    self._on_record(await self._session.revert(fault.id))
