"""The drill on the team's dashboards: its own Prometheus metrics while it runs (phase, faults,
driven load, running verdicts), and Grafana annotations of its phases, faults and verdict."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import anyio
from anyio.abc import TaskGroup
from prometheus_client import CollectorRegistry, Counter, Gauge, start_http_server

from chaos.errors import PreflightError
from chaos.observe.grafana import GrafanaAnnotator, GrafanaError
from chaos.recording import (
    SERVER_FAILURE_CLASSES,
    STATUS_CLASSES,
    FaultRecord,
    LoadWindow,
    Phase,
    ProbeSecond,
    Sample,
)
from chaos.slo.config import EvaluationConfig, Thresholds

if TYPE_CHECKING:
    from chaos.spec import Environment

PASS, FAIL, INCONCLUSIVE = 0, 1, 2
CRITERIA = ("availability", "rate_2xx", "rate_5xx", "rate_429", "p95_first_token", "p95_completion")
ENDED_PHASE = "ended"  # chaos_drill_phase after the last phase
TICK_S = 0.5
ROLLING_PROBES_S = 5.0


class Rolling(Protocol):
    """What the running verdicts read from the recorder's rolling view."""

    @property
    def in_flight(self) -> int: ...
    @property
    def rates(self) -> Mapping[str, float | None]: ...
    @property
    def p95_first_token_ms(self) -> float | None: ...
    @property
    def p95_completion_ms(self) -> float | None: ...


class EventLog(Protocol):
    def append_event(self, kind: str, message: str, **detail: Any) -> None: ...


class RecorderView(Protocol):
    """The run's recorder, as telemetry uses it (chaos.run.recorder.Recorder)."""

    listeners: list[Callable[[LoadWindow | Sample | ProbeSecond], None]]

    @property
    def bundle(self) -> EventLog | None: ...

    def rolling(self) -> Rolling: ...
    def faults(self) -> tuple[FaultRecord, ...]: ...
    def recent_probes(self, seconds: float, now: float | None = None) -> list[ProbeSecond]: ...


def running_status(view: Rolling, thresholds: Thresholds | None,
                   probes: Sequence[ProbeSecond]) -> dict[str, int]:
    """Each criterion's verdict over the last few seconds (PASS, FAIL or INCONCLUSIVE: no
    thresholds in this phase, or nothing measured). A live reading, not the evaluation."""
    if thresholds is None:
        return dict.fromkeys(CRITERIA, INCONCLUSIVE)
    r = view.rates

    def upper(value: float | None, limit: float) -> int:
        return INCONCLUSIVE if value is None else PASS if value <= limit else FAIL

    known = [p.available for p in probes if p.available is not None]
    availability = sum(known) / len(known) if known else None
    ended = r.get("2xx")
    server = None if ended is None else sum(r.get(c) or 0.0 for c in SERVER_FAILURE_CLASSES)
    return {
        "availability": INCONCLUSIVE if availability is None else
        PASS if availability >= thresholds.availability.value else FAIL,
        "rate_2xx": INCONCLUSIVE if ended is None else PASS if ended >= thresholds.rate_2xx.value else FAIL,
        "rate_5xx": upper(server, thresholds.rate_5xx.value),
        "rate_429": upper(r.get("429"), thresholds.rate_429.value),
        "p95_first_token": upper(view.p95_first_token_ms, thresholds.p95_first_token.value),
        "p95_completion": upper(view.p95_completion_ms, thresholds.p95_completion.value),
    }


@dataclass(frozen=True, slots=True)
class ExporterStatistics:
    listening: str | None
    windows: int
    phase: str | None
    faults_active: int


class DrillExporter:
    """The drill's series in its own registry, served by prometheus_client's HTTP server."""

    def __init__(self, drill: str, run_id: str, phases: Sequence[str]) -> None:
        self.labels = (drill, run_id)
        self.registry = CollectorRegistry()
        base = ["drill", "run_id"]
        self._phase = Gauge("chaos_drill_phase", "1 for the drill's current phase", [*base, "phase"],
                            registry=self.registry)
        self._fault = Gauge("chaos_fault_active", "1 while the fault is applied",
                            [*base, "fault_id", "scenario", "mode", "target"], registry=self.registry)
        self._streams = Gauge("chaos_load_streams", "Load requests in flight", base,
                              registry=self.registry)
        self._requests = Counter("chaos_load_requests", "Load requests ended, by outcome class",
                                 [*base, "class"], registry=self.registry)
        self._criterion = Gauge("chaos_criterion_status",
                                "Running verdict over the last seconds: 0 pass, 1 fail, 2 inconclusive",
                                [*base, "id"], registry=self.registry)
        self._phases = (*dict.fromkeys(phases), ENDED_PHASE)
        for name in self._phases:
            self._phase.labels(*self.labels, name).set(0)
        for cls in STATUS_CLASSES:
            self._requests.labels(*self.labels, cls)  # exposed at 0 from the start
        for cid in CRITERIA:
            self._criterion.labels(*self.labels, cid).set(INCONCLUSIVE)
        self._streams.labels(*self.labels).set(0)
        self._current: str | None = None
        self._active: dict[str, tuple[str, ...]] = {}
        self._windows = 0
        self._server: object | None = None
        self._listening: str | None = None

    def serve(self, host: str, port: int) -> None:
        try:
            server, _thread = start_http_server(port, addr=host, registry=self.registry)
        except OSError as exc:
            raise PreflightError("dashboards.metrics_listen",
                                 f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
        self._server = server
        self._listening = f"{host}:{port}"

    def close(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()  # type: ignore[attr-defined]  # a WSGIServer
            server.server_close()  # type: ignore[attr-defined]

    def set_phase(self, name: str | None) -> None:
        if name == self._current:
            return
        if self._current is not None:
            self._phase.labels(*self.labels, self._current).set(0)
        if name is not None:
            self._phase.labels(*self.labels, name).set(1)
        self._current = name

    def set_fault(self, record: FaultRecord, active: bool) -> None:
        labels = (*self.labels, record.id, record.scenario, record.mode, record.target)
        self._fault.labels(*labels).set(int(active))
        if active:
            self._active[record.id] = labels
        else:
            self._active.pop(record.id, None)

    def add_window(self, window: LoadWindow) -> None:
        self._windows += 1
        for cls, n in window.counts.items():
            if n:
                self._requests.labels(*self.labels, cls).inc(n)

    def set_streams(self, in_flight: int) -> None:
        self._streams.labels(*self.labels).set(in_flight)

    def set_criteria(self, statuses: Mapping[str, int]) -> None:
        for cid, value in statuses.items():
            self._criterion.labels(*self.labels, cid).set(value)

    def statistics(self) -> ExporterStatistics:
        return ExporterStatistics(self._listening, self._windows, self._current, len(self._active))


def _host_port(value: str) -> tuple[str, int]:
    host, _, port = value.rpartition(":")
    return host.strip("[]"), int(port)


class DrillTelemetry:
    """Feeds the exporter and the annotator from the run: `start` when the load's phases are
    known, `finish` with the verdict. Annotation failures never stop a drill: they go to the
    evidence as events (to stderr once the evidence is sealed)."""

    def __init__(self, env: Environment, recorder: RecorderView, evaluation: EvaluationConfig, *,
                 drill: str, run_id: str) -> None:
        self._dashboards = env.dashboards
        self._recorder = recorder
        self._evaluation = evaluation
        self.drill, self.run_id = drill, run_id
        self.exporter: DrillExporter | None = None
        self.annotator: GrafanaAnnotator | None = None
        self._phases: tuple[Phase, ...] = ()
        self._phase: str | None = None
        self._applied: dict[str, int | None] = {}  # fault id -> its annotation's id
        self._reverted: set[str] = set()
        self._sealed = False

    @property
    def enabled(self) -> bool:
        return self._dashboards is not None

    def start(self, tg: TaskGroup, phases: tuple[Phase, ...]) -> None:
        """Serve the metrics and start following the run (inside the run's task group)."""
        d = self._dashboards
        if d is None:
            return
        from chaos.spec import expand_env

        self._phases = phases
        if d.grafana is not None:
            g = d.grafana
            self.annotator = GrafanaAnnotator(
                expand_env(g.url, where="dashboards.grafana.url"),
                expand_env(g.token, where="dashboards.grafana.token"),
                dashboard_uid=g.dashboard_uid, tags=("chaos", self.drill, *g.tags))
        if d.metrics_listen is not None:
            exporter = DrillExporter(self.drill, self.run_id, [p.name for p in phases])
            exporter.serve(*_host_port(expand_env(d.metrics_listen, where="dashboards.metrics_listen")))
            self.exporter = exporter
            self._recorder.listeners.append(self._feed)
        tg.start_soon(self._follow)

    def _feed(self, item: LoadWindow | Sample | ProbeSecond) -> None:
        if isinstance(item, LoadWindow) and self.exporter is not None:
            self.exporter.add_window(item)

    async def _follow(self) -> None:
        while True:
            await self.sync(time.time())
            await anyio.sleep(TICK_S)

    async def sync(self, now: float) -> None:
        """Bring the series and annotations up to `now` (phases, faults, load, verdicts)."""
        phase = next((p for p in self._phases if p.start <= now < p.end), None)
        if phase is None and self._phases and now >= self._phases[-1].end:
            name: str | None = ENDED_PHASE
        else:
            name = phase.name if phase is not None else None
        if name != self._phase:
            self._phase = name
            if self.exporter is not None:
                self.exporter.set_phase(name)
            if phase is not None:
                await self._annotate(f"{self.drill}: phase {phase.name}", phase.start,
                                     tags=("phase", phase.kind))
        await self._sync_faults()
        if self.exporter is not None:
            view = self._recorder.rolling()
            self.exporter.set_streams(view.in_flight)
            thresholds = (self._evaluation.thresholds(phase.tier)
                          if phase is not None and phase.tier is not None else None)
            self.exporter.set_criteria(running_status(
                view, thresholds, self._recorder.recent_probes(ROLLING_PROBES_S, now)))

    async def _sync_faults(self) -> None:
        for record in self._recorder.faults():
            what = f"{record.scenario}/{record.mode} on {record.target}"
            if record.applied_at is not None and record.id not in self._applied:
                if self.exporter is not None:
                    self.exporter.set_fault(record, True)
                self._applied[record.id] = await self._annotate(
                    f"{self.drill}: fault {record.id} applied ({what})", record.applied_at,
                    tags=("fault", record.id, record.scenario, record.mode))
            if record.reverted_at is not None and record.id not in self._reverted:
                self._reverted.add(record.id)
                if self.exporter is not None:
                    self.exporter.set_fault(record, False)
                await self._reverted_annotation(record, what)

    async def _reverted_annotation(self, record: FaultRecord, what: str) -> None:
        assert record.reverted_at is not None  # Invariant: called for reverted faults only
        how = next((a.revert_method for a in record.actions if a.revert_method != "none"), "targeted")
        text = f"{self.drill}: fault {record.id} ({what}), reverted ({how})"
        tags = ("fault", record.id, record.scenario, record.mode)
        ident = self._applied.get(record.id)
        if self.annotator is None:
            return
        if ident is not None and record.applied_at is not None:
            try:
                await self.annotator.extend(ident, text, record.applied_at, record.reverted_at, tags)
                return
            except GrafanaError as exc:
                self._failed(exc)
        await self._annotate(text, record.reverted_at, tags=tags)

    async def _annotate(self, text: str, start: float, end: float | None = None,
                        tags: Sequence[str] = ()) -> int | None:
        if self.annotator is None:
            return None
        try:
            return await self.annotator.annotate(text, start, end, tags)
        except GrafanaError as exc:
            self._failed(exc)
            return None

    def _failed(self, exc: GrafanaError) -> None:
        bundle = self._recorder.bundle
        if bundle is not None and not self._sealed:
            bundle.append_event("dashboards.annotation_failed", str(exc))
        else:
            print(f"chaos: dashboards: {exc}", file=sys.stderr)

    async def finish(self, state: str, verdict: str, *, started_at: float, ended_at: float) -> None:
        """After the evidence is sealed: the last fault reverts, the verdict over the whole
        run, then the metrics server stops. Never raises: the run's result stands."""
        if self._dashboards is None:
            return
        self._sealed = True
        try:
            with anyio.move_on_after(10):
                await self.sync(max(time.time(), self._phases[-1].end if self._phases else 0.0))
                await self._annotate(f"{self.drill}: {verdict} ({state}), run {self.run_id}",
                                     started_at, ended_at, tags=("verdict", verdict, state))
        finally:
            self.close()

    def close(self) -> None:
        """Stop serving the metrics (also when the run is cancelled before `finish`)."""
        if self.exporter is not None:
            self.exporter.close()
