"""Abort watch: feeds the run's recording to the SLO AbortMonitor, polls the drill's PromQL
conditions, and fires once a stop condition has held for its (compressed) duration."""

from __future__ import annotations

import time

import anyio

from chaos.recording import LoadWindow, ProbeSecond, Sample
from chaos.run.promql_abort import PromqlCondition, PromqlWatch
from chaos.slo.abort import AbortCondition, AbortMonitor, FiredCondition
from chaos.spec import Drill

CHECK_INTERVAL_S = 0.5


def abort_conditions(drill: Drill, time_scale: float, primary_route: str) -> tuple[AbortCondition, ...]:
    return tuple(
        AbortCondition(
            name=c.name,
            metric=c.metric,
            above=c.above,
            below=c.below,
            for_s=c.for_.total_seconds() * time_scale,
            labels={"route": primary_route} if c.metric == "circuit_state" else {},
        )
        for c in drill.abort if c.metric is not None
    )


def promql_conditions(drill: Drill, time_scale: float) -> tuple[PromqlCondition, ...]:
    return tuple(PromqlCondition(c.name, c.promql, c.above, c.below, c.for_.total_seconds() * time_scale)
                 for c in drill.abort if c.promql is not None)


class AbortWatch:
    def __init__(self, drill: Drill, time_scale: float, sample_interval_s: float, primary_route: str,
                 *, prometheus_url: str | None = None, headers: tuple[tuple[str, str], ...] = ()) -> None:
        self._monitor = AbortMonitor(abort_conditions(drill, time_scale, primary_route),
                                     sample_interval_s=sample_interval_s)
        self._promql = PromqlWatch(promql_conditions(drill, time_scale), prometheus_url, headers)
        self.fired = anyio.Event()
        self.condition: FiredCondition | None = None

    @property
    def reason(self) -> str:
        c = self.condition
        if c is None:
            return self._promql.reason
        return (f"abort condition {c.name}: {c.metric} {c.comparison} {c.threshold:g} held "
                f"{c.held_s:.1f}s (last value {c.value:g})")

    def feed(self, item: LoadWindow | Sample | ProbeSecond) -> None:
        self._monitor.feed(item)

    async def run(self) -> None:
        async with anyio.create_task_group() as tg:
            tg.start_soon(self._run_promql, tg)
            if not self._monitor.conditions:
                return
            while self.condition is None and not self.fired.is_set():
                await anyio.sleep(CHECK_INTERVAL_S)
                self.condition = self._monitor.check(time.time())
            self.fired.set()
            tg.cancel_scope.cancel()

    async def _run_promql(self, tg: anyio.abc.TaskGroup) -> None:
        await self._promql.run()
        if self._promql.fired.is_set() and not self.fired.is_set():
            self.fired.set()
            tg.cancel_scope.cancel()
