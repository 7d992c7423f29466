"""The Drill model: load, faults, SLO overrides, limits, steady-state checks and abort conditions."""

from __future__ import annotations

from datetime import timedelta
from typing import Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from chaos.spec.base import SpecModel, field_error
from chaos.spec.faults import Fault, Tier
from chaos.spec.units import (
    Count,
    Duration,
    Number,
    Percent,
    Rate,
    Streams,
    Workers,
    parse_duration,
    parse_number,
    parse_percent,
)
from chaos.spec.urls import Url, UrlPath

Gate = Literal["M1", "M2", "M3"]
Profile = Literal["m1_1k", "m2_5k", "m3_20k"]
PROFILE_STREAMS: dict[str, int] = {"m1_1k": 1_000, "m2_5k": 5_000, "m3_20k": 20_000}

AbortMetric = Literal[
    "rate_5xx", "rate_2xx", "rate_429", "p95_first_token_ms", "p95_completion_ms",
    "availability", "circuit_state", "queue_oldest_age_s",
]
_RATE_METRICS = frozenset({"rate_5xx", "rate_2xx", "rate_429", "availability"})
_MS_METRICS = frozenset({"p95_first_token_ms", "p95_completion_ms"})


class Timeouts(SpecModel):
    connect: Duration = timedelta(seconds=5)
    first_byte: Duration = timedelta(seconds=30)
    stall: Duration | None = None
    """A 2xx stream with no event (comment lines do not count) for this long is *stalled*.
    Default 30s; scaled with --time-scale like the drill's other durations."""
    idle: Duration | None = None
    """Former name of `stall` (still read)."""
    total: Duration = timedelta(minutes=2)

    @property
    def stall_s(self) -> float:
        value = self.stall or self.idle
        return 30.0 if value is None else value.total_seconds()

    @model_validator(mode="after")
    def _one_name(self) -> Timeouts:
        if self.stall is not None and self.idle is not None:
            raise field_error("idle", "'idle' is the former name of 'stall': give one of them")
        return self


class Load(SpecModel):
    model: Literal["closed", "open"] = "closed"
    """closed: a fixed number of concurrent streams; open: a fixed arrival rate."""
    streams: Streams | None = None
    profile: Profile | None = None
    """Alternative to `streams`: a Phase 5.0 load profile (m1_1k, m2_5k, m3_20k)."""
    rate: Rate | None = None
    """open model: requests started per second."""
    max_in_flight: Streams | None = None
    think_time: Duration = timedelta(0)
    ramp_up: Duration = timedelta(0)
    ramp_down: Duration = timedelta(0)
    message: str = "hi"
    workers: Workers = "auto"
    timeouts: Timeouts = Timeouts()

    @property
    def concurrent_streams(self) -> int | None:
        """Closed model: streams (from `streams` or `profile`); open model: None."""
        if self.streams is not None:
            return self.streams
        return PROFILE_STREAMS[self.profile] if self.profile is not None else None

    @model_validator(mode="after")
    def _model_params(self) -> Load:
        if self.streams is not None and self.profile is not None:
            raise field_error("profile", "give either 'streams' or 'profile', not both")
        if self.model == "closed":
            if self.streams is None and self.profile is None:
                raise field_error("streams", "the closed model needs 'streams' or 'profile'")
            if self.streams == 0:
                raise field_error("streams", "the closed model needs at least 1 stream")
            for name in ("rate", "max_in_flight"):
                if getattr(self, name) is not None:
                    raise field_error(name, f"'{name}' applies only to the open model")
        else:
            if self.rate is None:
                raise field_error("rate", "the open model needs 'rate' (requests per second)")
            for name in ("streams", "profile"):
                if getattr(self, name) is not None:
                    raise field_error(name, f"'{name}' applies only to the closed model")
        return self


class Phases(SpecModel):
    """Minimum judged lengths of the baseline and recovery phases."""

    baseline: Duration | None = None
    recovery: Duration | None = None


class SloOverrides(SpecModel):
    """Thresholds that replace the tier's catalog values for this drill."""

    availability: Percent | None = None
    rate_2xx: Percent | None = None
    rate_5xx: Percent | None = None
    rate_429: Percent | None = None
    p95_first_token: Duration | None = None
    p95_completion: Duration | None = None


class Slo(SpecModel):
    overrides: SloOverrides = SloOverrides()
    min_requests_for_p95: Count | None = None
    """Below this many requests in a phase, its p95 criteria are INCONCLUSIVE."""
    max_probe_gap: Percent | None = None
    """Largest share of missing probe seconds before availability is INCONCLUSIVE."""


class Limits(SpecModel):
    circuit_open_max: Duration | None = None
    queue_age_max: Duration | None = None


class HttpCheck(SpecModel):
    path: UrlPath | None = None
    url: Url | None = None
    expect_status: int = Field(default=200, ge=100, le=599)

    @model_validator(mode="after")
    def _path_or_url(self) -> HttpCheck:
        if (self.path is None) == (self.url is None):
            raise field_error("path", "give exactly one of 'path' or 'url'")
        return self


class SteadyStateCheck(SpecModel):
    """A condition that must hold before faults start and after recovery."""

    name: str = Field(min_length=1)
    http: HttpCheck | None = None
    metric: str | None = None
    """A logical query name of the environment (e.g. circuit_state) or a metric selector."""
    labels: dict[str, str] = Field(default_factory=dict)
    above: Number | None = None
    below: Number | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> SteadyStateCheck:
        if (self.http is None) == (self.metric is None):
            raise field_error("http", "give exactly one of 'http' or 'metric'")
        if self.metric is not None and self.above is None and self.below is None:
            raise field_error("metric", "a metric check needs 'above' or 'below'")
        if self.http is not None:
            for name in ("above", "below"):
                if getattr(self, name) is not None:
                    raise field_error(name, f"'{name}' applies only to metric checks")
            if self.labels:
                raise field_error("labels", "'labels' applies only to metric checks")
        return self


def _threshold(metric: str, value: object) -> float:
    """A threshold in the metric's natural unit: fractions for rates, ms, seconds, or a number."""
    if metric in _RATE_METRICS:
        return parse_percent(value)
    if metric in _MS_METRICS:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return parse_number(value)
        return parse_duration(value).total_seconds() * 1000.0
    if metric == "queue_oldest_age_s":
        return parse_duration(value).total_seconds()
    if isinstance(value, int | float) and not isinstance(value, bool):
        return parse_number(value)
    raise ValueError(f"{metric} needs a plain number, got {value!r}")


class AbortCondition(SpecModel):
    """Stop the run (and revert) when `metric` stays above/below a threshold for `for`; or
    when a PromQL query against `metrics.prometheus` does (without a threshold: any series
    with a value > 0), so a team's own alert can stop a drill (docs/gameday.md)."""

    name: str = Field(min_length=1)
    metric: AbortMetric | None = None
    promql: str | None = Field(default=None, min_length=1)
    above: float | None = None
    below: float | None = None
    for_: Duration = Field(default=timedelta(0), alias="for")

    @field_validator("above", "below", mode="plain")
    @classmethod
    def _natural_unit(cls, value: object, info: ValidationInfo) -> float | None:
        if value is None:
            return None
        if info.data.get("promql") is not None:
            return _threshold("promql", value)  # a plain number
        metric = info.data.get("metric")
        if metric is None:  # the metric is invalid and reported; the model fails anyway
            return None
        return _threshold(str(metric), value)

    @model_validator(mode="after")
    def _one_bound(self) -> AbortCondition:
        if (self.metric is None) == (self.promql is None):
            raise field_error("metric", "give exactly one of 'metric' or 'promql'")
        if self.promql is not None:
            if self.above is not None and self.below is not None:
                raise field_error("above", "give at most one of 'above' or 'below'")
            return self
        if (self.above is None) == (self.below is None):
            raise field_error("above", "give exactly one of 'above' or 'below'")
        return self


class Drill(SpecModel):
    """One declarative chaos drill."""

    version: Literal[1]
    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", max_length=100)
    description: str = ""
    proves: str | None = None
    tier: Tier
    gate: Gate | None = None
    duration: Duration
    load: Load
    phases: Phases = Phases()
    faults: tuple[Fault, ...] = Field(default=(), max_length=1000)
    slo: Slo = Slo()
    limits: Limits = Limits()
    steady_state: tuple[SteadyStateCheck, ...] = ()
    abort: tuple[AbortCondition, ...] = ()

    @model_validator(mode="after")
    def _positive_duration(self) -> Drill:
        if self.duration <= timedelta(0):
            raise field_error("duration", "the run must last longer than 0s")
        return self
