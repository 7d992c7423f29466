"""The recording: what a run measured, as plain frozen values (the contract between producers and the evaluator).

Producers: `load/` emits `LoadWindow`s, `observe/` emits `Sample`s and `ProbeSecond`s,
`faults/` emits `FaultRecord`s, `run/` decides `Phase`s. Consumers: `slo/` (pure
evaluation), `report/` (evidence). Everything here is JSON-serialisable through
`to_json()` / `from_json()` so `chaos report` can re-evaluate an old bundle.

Conventions:
- Instants (`start`, `end`, `t`, `*_at`) are wall-clock Unix seconds (float). Durations
  inside a process are measured on the monotonic clock and converted once.
- Latencies are microseconds inside HDR histograms (lowest 1 us, highest 10 min,
  3 significant digits), shipped base64-encoded (`HdrHistogram.encode()`).
- A request is attributed to the window in which it *ended* (status known); both its
  first-token and completion latency are recorded then. Requests still in flight at the
  end of a run are `cancelled`, never errors.
- A missing value is `None` (a gap), never 0.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

# Outcome classes of DESIGN section 4, exactly one per request. "2xx" is a *complete* stream
# (the seed's "2xx rate" means complete streams): a 2xx answer whose body met the protocol's
# completion rule. A 2xx answer that did not is one of the stream classes: broken (in-band
# error), truncated (ended without the completion rule), stalled (no event for the stall
# timeout), malformed (a chunk the protocol cannot parse). Those and "transport" count with
# 5xx as server-side failures (SERVER_FAILURE_CLASSES).
STATUS_CLASSES: tuple[str, ...] = (
    "2xx", "429", "4xx", "5xx", "transport", "broken", "truncated", "stalled", "malformed",
)
STREAM_CLASSES: tuple[str, ...] = ("broken", "truncated", "stalled", "malformed")
SERVER_FAILURE_CLASSES: tuple[str, ...] = ("5xx", "transport", *STREAM_CLASSES)
CLASS_LABELS: Mapping[str, str] = {"2xx": "complete"}  # how a class is shown, where not by its key


def server_failures(counts: Mapping[str, int]) -> int:
    """Requests that failed on the server's side: 5xx, transport and every broken stream."""
    return sum(counts.get(cls, 0) for cls in SERVER_FAILURE_CLASSES)
# An SSE `error` event inside a 2xx stream: the platform gave up mid-answer (provider gone,
# region cut behind the router). The user got no full answer: the load driver counts the
# request as a broken stream, the prober's canary as unavailable.
SSE_ERROR_EVENTS: tuple[bytes, bytes] = (b"\nevent: error", b"\nevent:error")
# Transport failure kinds (no complete response head, or a timeout or protocol error).
# Older recordings also have "broken": a 2xx stream cut short, now its own class.
TRANSPORT_KINDS: tuple[str, ...] = ("connect", "reset", "timeout", "protocol")

FAILED_PER_WINDOW = 10  # failed requests a window names (by id); the rest are counted

HIST_LOWEST_US = 1
HIST_HIGHEST_US = 600_000_000  # 10 minutes
HIST_SIGNIFICANT_DIGITS = 3

RECORDING_SCHEMA_VERSION = 1


@dataclass(frozen=True, slots=True)
class LoadWindow:
    """One worker's one-second report. Self-contained; receiving it twice is harmless
    (identity is `(run_id, worker_id, incarnation, seq)`)."""

    run_id: str
    worker_id: str
    incarnation: int
    seq: int  # 0, 1, 2, ... without gaps per (worker_id, incarnation)
    start: float
    end: float
    started: int  # requests started in this window
    counts: Mapping[str, int]  # STATUS_CLASSES -> requests that ended in this window
    error_codes: Mapping[str, int]  # short codes of non-2xx bodies and in-band errors, e.g. redis_unavailable
    transport: Mapping[str, int]  # TRANSPORT_KINDS -> count (sum == counts["transport"])
    regions: Mapping[str, int]  # value of the region header of responses that ended here
    # Encoded HDR histograms, us, of complete streams only ("" when none):
    first_token_hist: str  # request start -> first content-bearing event
    completion_hist: str  # request start -> completion marker
    cancelled: int = 0  # in flight at the graceful end, stopped by the driver
    late: int = 0  # open model: started after their intended instant by more than the slack
    dropped: int = 0  # open model: never started (in-flight cap reached)
    in_flight: int = 0  # at the end of the window
    events: int = 0  # SSE events received
    bytes_received: int = 0
    loop_lag_p99_ms: float = 0.0
    cpu_percent: float = 0.0  # of one core, over the window
    saturated: bool = False  # lag or CPU over the driver's limit in this window
    ttfb_hist: str = ""  # request start -> first body byte (complete streams)
    itl_hist: str = ""  # gaps between successive reads that carried content (complete streams)
    tpot_hist: str = ""  # per complete stream: (completion - first token) / (output tokens - 1)
    output_tokens: int = 0  # of complete streams
    token_sources: Mapping[str, int] = field(default_factory=dict)  # usage | chunks -> streams
    first_kinds: Mapping[str, int] = field(default_factory=dict)  # content | reasoning | tool_call
    class_codes: Mapping[str, int] = field(default_factory=dict)  # "<class>:<code>" -> count
    # The first FAILED_PER_WINDOW requests of the window that did not complete, each
    # [request id, class, code or None, start, outcome instant] (wall clock), and how many
    # more there were: the ledger an SRE greps the platform's own logs with.
    failed: tuple[tuple[str, str, str | None, float, float], ...] = ()
    failed_more: int = 0

    @property
    def key(self) -> tuple[str, str, int, int]:
        return (self.run_id, self.worker_id, self.incarnation, self.seq)


@dataclass(frozen=True, slots=True)
class MissingWindow:
    """A window the controller expected but did not receive by its deadline: a gap."""

    worker_id: str
    incarnation: int
    seq: int
    start: float
    end: float


@dataclass(frozen=True, slots=True)
class WorkerRecord:
    """Where one load worker ran and what became of it (a lost worker is evidence, not a
    crash). Instants are coordinator wall-clock seconds."""

    worker_id: str
    incarnation: int = 0
    backend: str = "local"  # local | ray
    node: str = ""  # the node it ran on (hostname, or Ray node id and resources)
    address: str = ""  # the node's IP address or hostname
    pid: int | None = None
    cpus: float = 1.0  # cores reserved for it (Ray: its bundle's CPU)
    streams: int = 0  # closed model: its share of the streams
    rate_per_s: float = 0.0  # open model: its share of the arrival rate
    # worker clock minus coordinator clock, measured at start and every so often:
    # (coordinator instant, offset s, round trip s); windows are shifted by the first
    clock_samples: tuple[tuple[float, float, float], ...] = ()
    lost_at: float | None = None  # when the coordinator gave it up
    lost_reason: str | None = None
    last_seq: int | None = None  # the last window received from it


@dataclass(frozen=True, slots=True)
class Sample:
    """One observation of one logical metric series at one instant; `value=None` is a gap
    (the scrape or query failed), never a zero."""

    t: float
    metric: str  # logical name: circuit_state, queue_oldest_age_s, queue_depth, active_region, redis_up, failovers_total, hard_failures
    labels: Mapping[str, str]  # e.g. {"route": "primary"}, {"region": "us-east"}, {"code": "redis_unavailable"}
    value: float | None
    source: str = ""  # scrape URL or query


@dataclass(frozen=True, slots=True)
class ProbeSecond:
    """The availability prober's result for one second: available only when both the
    health check and the canary chat request succeeded."""

    t: float
    health_ok: bool | None  # None: the probe could not run (a gap)
    chat_ok: bool | None
    error: str | None = None  # short reason when not ok, e.g. "health 503", "chat redis_unavailable"
    region: str | None = None  # region that served the canary
    chat_first_token_ms: float | None = None
    ended_at: float | None = None  # when the result was known (older recordings: None)

    @property
    def booked_at(self) -> float:
        """The instant a probe second is booked at: when its result became known, so a
        canary in flight when a fault starts counts in the fault's phase, not the one before."""
        return self.t if self.ended_at is None else self.ended_at

    @property
    def available(self) -> bool | None:
        if self.health_ok is None or self.chat_ok is None:
            return None
        return self.health_ok and self.chat_ok


PhaseKind = Literal["ramp_up", "baseline", "fault", "recovery", "ramp_down", "whole"]


@dataclass(frozen=True, slots=True)
class Phase:
    """A scope of the run that SLOs are evaluated over."""

    name: str  # "baseline", "fault:<fault id>", "recovery", ...
    kind: PhaseKind
    start: float
    end: float
    tier: str | None = None  # tier applied in this phase (None: not judged on SLOs, e.g. ramps)
    fault_id: str | None = None


@dataclass(frozen=True, slots=True)
class FaultAction:
    """One primitive the fault applied, as it happened."""

    primitive: str  # e.g. "toxiproxy.disable", "toxiproxy.toxic", "docker.pause", "process.kill", "http"
    target: str  # proxy, container, process or URL
    detail: Mapping[str, Any] = field(default_factory=dict)
    applied_at: float | None = None  # effective (verified) instant
    reverted_at: float | None = None
    revert_method: Literal["targeted", "broad", "none"] = "none"
    error: str | None = None
    apply_s: float | None = None  # how long the apply took, its verification included
    revert_s: float | None = None  # how long the revert took, every retry included
    revert_attempts: int = 0  # revert calls made (targeted and broad), 0 when never reverted


@dataclass(frozen=True, slots=True)
class FaultRecord:
    """A drill fault: when it was scheduled, when it took effect and was undone."""

    id: str
    scenario: str  # provider_outage | redis_loss | region_failover
    mode: str
    target: str  # provider route, "redis", or region name
    scheduled_at: float
    scheduled_end: float
    applied_at: float | None = None
    reverted_at: float | None = None
    actions: tuple[FaultAction, ...] = ()
    error: str | None = None


@dataclass(frozen=True, slots=True)
class Recording:
    """Everything a run measured. `complete=False` marks a run that did not finish."""

    run_id: str
    started_at: float
    ended_at: float
    phases: tuple[Phase, ...]
    windows: tuple[LoadWindow, ...]
    missing_windows: tuple[MissingWindow, ...] = ()
    samples: tuple[Sample, ...] = ()
    probes: tuple[ProbeSecond, ...] = ()
    faults: tuple[FaultRecord, ...] = ()
    time_scale: float = 1.0
    load_scale: float = 1.0
    complete: bool = True
    aborted: str | None = None  # the stop condition that fired, or "interrupted"
    sample_interval_s: float = 1.0
    schema_version: int = RECORDING_SCHEMA_VERSION
    workers: tuple[WorkerRecord, ...] = ()  # load workers: placement, clock, losses

    def to_json(self) -> dict[str, Any]:
        return _to_jsonable(self)  # type: ignore[no-any-return]

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Recording:
        return Recording(
            run_id=data["run_id"],
            started_at=data["started_at"],
            ended_at=data["ended_at"],
            phases=tuple(Phase(**p) for p in data.get("phases", ())),
            windows=tuple(_window(w) for w in data.get("windows", ())),
            missing_windows=tuple(MissingWindow(**m) for m in data.get("missing_windows", ())),
            samples=tuple(Sample(**s) for s in data.get("samples", ())),
            probes=tuple(ProbeSecond(**p) for p in data.get("probes", ())),
            faults=tuple(
                FaultRecord(
                    **{k: v for k, v in f.items() if k != "actions"},
                    actions=tuple(FaultAction(**a) for a in f.get("actions", ())),
                )
                for f in data.get("faults", ())
            ),
            time_scale=data.get("time_scale", 1.0),
            load_scale=data.get("load_scale", 1.0),
            complete=data.get("complete", True),
            aborted=data.get("aborted"),
            sample_interval_s=data.get("sample_interval_s", 1.0),
            schema_version=data.get("schema_version", RECORDING_SCHEMA_VERSION),
            workers=tuple(WorkerRecord(**{**w, "clock_samples": tuple(tuple(c) for c in w.get("clock_samples", ()))})
                          for w in data.get("workers", ())),
        )


def _window(data: Mapping[str, Any]) -> LoadWindow:
    if "failed" in data:
        data = {**data, "failed": tuple(tuple(f) for f in data["failed"])}
    return LoadWindow(**data)


def _to_jsonable(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _to_jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(k): _to_jsonable(v) for k, v in value.items()}
    if isinstance(value, tuple | list):
        return [_to_jsonable(v) for v in value]
    return value
