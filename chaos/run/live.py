"""The live view: phase and progress, throughput, status-class rates and p95s against the
current phase's thresholds, active faults with countdowns, circuit/queue/region, driver
saturation. A rich display on a terminal; one plain line every 10 s otherwise."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import anyio
from rich.console import Console, Group
from rich.live import Live
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from chaos.recording import SERVER_FAILURE_CLASSES, STREAM_CLASSES, Phase
from chaos.run.recorder import Recorder, RollingView
from chaos.slo.config import EvaluationConfig, Thresholds

PLAIN_INTERVAL_S = 10.0
AMBER_FRACTION = 0.8  # within 80% of a limit is amber


@dataclass(frozen=True, slots=True)
class LiveState:
    """One frame's facts, also used for the plain line."""

    now: float
    phase: Phase | None
    load_start: float
    load_end: float
    view: RollingView
    active_faults: dict[str, float]  # id -> scheduled end (wall)
    circuit: str
    queue_age_s: float | None
    active_region: str


def _colour(value: float | None, limit: float, *, upper: bool) -> str:
    if value is None:
        return "dim"
    if upper:
        return "red" if value > limit else "yellow" if value > limit * AMBER_FRACTION else "green"
    return "red" if value < limit else "green"


class LiveView:
    def __init__(
        self,
        recorder: Recorder,
        *,
        drill_name: str,
        evaluation: EvaluationConfig,
        phases: Callable[[], tuple[Phase, ...]],
        active_faults: Callable[[], dict[str, float]],
        console: Console | None = None,
    ) -> None:
        self._recorder = recorder
        self._drill = drill_name
        self._evaluation = evaluation
        self._phases = phases
        self._active_faults = active_faults
        self.console = console or Console()

    def state(self, now: float) -> LiveState:
        phases = self._phases()
        current = next((p for p in phases if p.start <= now < p.end), None)
        load_start = phases[0].start if phases else now
        load_end = phases[-1].end if phases else now
        circuit = self._recorder.latest_samples("circuit_state")
        primary = [s for s in circuit if s.labels.get("route") == self._evaluation.primary_route] or circuit
        state_value = max((s.value for s in primary if s.value is not None), default=None)
        circuit_text = {None: "n/a", 0.0: "closed", 0.5: "half-open", 1.0: "open"}.get(state_value, f"{state_value}")
        ages = [s.value for s in self._recorder.latest_samples("queue_oldest_age_s") if s.value is not None]
        regions = [s for s in self._recorder.latest_samples("active_region") if s.value]
        region = ",".join(sorted(s.labels.get("region", "?") for s in regions)) or "n/a"
        return LiveState(now, current, load_start, load_end, self._recorder.rolling(), self._active_faults(),
                         circuit_text, max(ages) if ages else None, region)

    def plain_line(self, s: LiveState) -> str:
        v = s.view
        r5 = v.rates.get("5xx")
        faults = ",".join(f"{k}({max(0.0, end - s.now):.0f}s)" for k, end in s.active_faults.items()) or "-"
        return (
            f"[{self._drill}] phase={s.phase.name if s.phase else '-'} "
            f"t={s.now - s.load_start:.0f}/{s.load_end - s.load_start:.0f}s req/s={v.requests_per_s:.1f} "
            f"in_flight={v.in_flight} 5xx={'n/a' if r5 is None else f'{r5 * 100:.2f}%'} "
            f"p95_ft={_ms(v.p95_first_token_ms)} p95_done={_ms(v.p95_completion_ms)} faults={faults} "
            f"circuit={s.circuit} queue_age={'n/a' if s.queue_age_s is None else f'{s.queue_age_s:.1f}s'} "
            f"region={s.active_region} saturated={'yes' if v.saturated else 'no'}"
            + (f" workers={where}" if (where := self.workers_text()) else "")
        )

    def workers_text(self) -> str:
        """Where each worker runs (node, CPU) when they are not all local, and any lost one."""
        workers = self._recorder.workers()
        if all(w.backend == "local" and w.lost_at is None for w in workers):
            return ""
        cpu = self._recorder.worker_cpu_percent()
        return ", ".join(
            f"{w.worker_id}@{w.node}:" + ("LOST" if w.lost_at is not None
                                         else f"{cpu[w.worker_id]:.0f}%cpu" if w.worker_id in cpu else "-")
            for w in workers)

    def render(self, s: LiveState) -> Group:
        v = s.view
        total = max(1e-9, s.load_end - s.load_start)
        elapsed = min(total, max(0.0, s.now - s.load_start))
        head = Text.assemble(
            (f"{self._drill}  ", "bold"),
            (f"phase {s.phase.name if s.phase else '-'}  ", "cyan"),
            f"{elapsed:.0f}/{total:.0f} s, {total - elapsed:.0f} s remaining",
        )
        bar = ProgressBar(total=total, completed=elapsed, width=60)
        th = self._thresholds(s.phase)
        table = Table(show_header=True, header_style="bold", box=None)
        for col in ("req/s", "in flight", "complete", "429", "server failures", "p95 first token",
                    "p95 completion"):
            table.add_column(col)
        r = v.rates
        # 5xx, transport and every broken stream (in-band error, truncated, stalled, malformed)
        r5 = None if r.get("5xx") is None else sum(r.get(c) or 0.0 for c in SERVER_FAILURE_CLASSES)
        cells = [Text(f"{v.requests_per_s:.1f}"), Text(str(v.in_flight))]
        if th is None:
            cells += [Text(_pct(r.get("2xx"))), Text(_pct(r.get("429"))), Text(_pct(r5)),
                      Text(_ms(v.p95_first_token_ms)), Text(_ms(v.p95_completion_ms))]
        else:
            cells += [
                Text(_pct(r.get("2xx")), style=_colour(r.get("2xx"), th.rate_2xx.value, upper=False)),
                Text(_pct(r.get("429")), style=_colour(r.get("429"), th.rate_429.value, upper=True)),
                Text(_pct(r5), style=_colour(r5, th.rate_5xx.value, upper=True)),
                Text(_ms(v.p95_first_token_ms), style=_colour(v.p95_first_token_ms, th.p95_first_token.value, upper=True)),
                Text(_ms(v.p95_completion_ms), style=_colour(v.p95_completion_ms, th.p95_completion.value, upper=True)),
            ]
        table.add_row(*cells)
        streams = "  ".join(f"{cls} {_pct(r.get(cls))}" for cls in (*STREAM_CLASSES, "transport")
                            if r.get(cls))
        faults = ", ".join(f"{k} ({max(0.0, end - s.now):.0f}s left)" for k, end in s.active_faults.items()) or "none"
        info = Text.assemble(
            ("faults: ", "bold"), (faults, "red" if s.active_faults else "green"),
            ("   circuit: ", "bold"), (s.circuit, "red" if s.circuit == "open" else ""),
            ("   queue age: ", "bold"), "n/a" if s.queue_age_s is None else f"{s.queue_age_s:.1f}s",
            ("   active region: ", "bold"), s.active_region,
            ("   driver: ", "bold"),
            (f"lag p99 {v.loop_lag_p99_ms:.0f} ms, cpu {v.cpu_percent:.0f}%"
             + (" SATURATED" if v.saturated else ""), "red" if v.saturated else ""),
        )
        lines: list[Text | ProgressBar | Table] = [head, bar, table]
        if streams:  # which server-side failures, each on its own
            lines.append(Text.assemble(("failures: ", "bold"), (streams, "red")))
        lines.append(info)
        if where := self.workers_text():
            lines.append(Text.assemble(("workers: ", "bold"), (where, "red" if "LOST" in where else "")))
        return Group(*lines)

    def _thresholds(self, phase: Phase | None) -> Thresholds | None:
        if phase is None or phase.tier is None:
            return None
        return self._evaluation.thresholds(phase.tier)

    async def run(self) -> None:
        """Refresh until cancelled (the run owns this task)."""
        if self.console.is_terminal:
            with Live(self.render(self.state(time.time())), console=self.console, refresh_per_second=4, transient=False) as live:
                while True:
                    await anyio.sleep(0.5)
                    live.update(self.render(self.state(time.time())))
        else:
            while True:
                await anyio.sleep(PLAIN_INTERVAL_S)
                self.console.print(self.plain_line(self.state(time.time())), soft_wrap=True, highlight=False)


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value * 100:.2f}%"


def _ms(value: float | None) -> str:
    return "n/a" if value is None else f"{value:,.0f}ms"
