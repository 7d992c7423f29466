"""Fault models: a discriminated union over the scenarios of DESIGN section 7."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, WithJsonSchema, model_validator

from chaos.spec.base import SpecModel, field_error
from chaos.spec.units import Count, Duration, Percent

Tier = Literal["L", "G", "X"]
Scenario = Literal["provider_outage", "redis_loss", "region_failover"]
SCENARIOS: tuple[Scenario, ...] = ("provider_outage", "redis_loss", "region_failover")

_FAULT_ID = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"
_ERROR_CODE = r"^[a-z][a-z0-9_]{0,40}$"


def _error_code(value: str) -> str:
    if not re.fullmatch(_ERROR_CODE, value):
        raise ValueError("an error code is a lowercase letter then up to 40 lowercase letters, "
                         f"digits or '_' (e.g. overloaded_error), not {value!r}")
    return value


ErrorCode = Annotated[
    str,
    AfterValidator(_error_code),
    WithJsonSchema({"type": "string", "pattern": _ERROR_CODE,
                    "description": "an in-band error code such as overloaded_error"}),
]


class FaultBase(SpecModel):
    id: str = Field(pattern=_FAULT_ID, max_length=64)
    """Unique within the drill; names the fault's phase `fault:<id>`."""
    target: str = Field(min_length=1)
    at: Duration
    """Offset from the load start at which the fault is applied."""
    for_: Duration = Field(alias="for")
    """How long the fault lasts (bounded; reverted afterwards)."""
    tier: Tier | None = None
    """SLO tier judged during the fault window (default: the drill's tier)."""
    overlaps: tuple[str, ...] = ()
    """Ids of faults on the same target this one may overlap."""
    hold: bool = False
    """Wait before applying until `chaos resume` (docs/gameday.md); the load keeps running."""

    @property
    def end(self) -> timedelta:
        return self.at + self.for_

    @model_validator(mode="after")
    def _positive_length(self) -> FaultBase:
        if self.for_ <= timedelta(0):
            raise field_error("for", "a fault must last longer than 0s")
        return self


# Mode -> (params it requires, params it accepts besides those).
_PROVIDER_PARAMS: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    "down": (frozenset(), frozenset()),
    "blackhole": (frozenset(), frozenset()),
    "reset": (frozenset(), frozenset()),
    "latency": (frozenset({"latency"}), frozenset({"jitter"})),
    "slow": (frozenset({"rate_kbps"}), frozenset()),
    "http_errors": (frozenset({"status"}), frozenset({"retry_after", "toxicity"})),
    "partial": (frozenset({"toxicity"}), frozenset()),
    "stream_error": (frozenset(), frozenset({"after_chunks", "toxicity", "code"})),
    "stream_truncate": (frozenset(), frozenset({"after_chunks", "toxicity"})),
    "stream_stall": (frozenset(), frozenset({"after_chunks", "toxicity"})),
}
_PROVIDER_OPTIONAL = ("latency", "jitter", "rate_kbps", "toxicity", "status", "retry_after",
                      "after_chunks", "code")
# Modes carried out by the route's HTTP fault switch (`http_fault`), not by its proxies.
HTTP_SWITCH_MODES: frozenset[str] = frozenset(
    {"http_errors", "stream_error", "stream_truncate", "stream_stall"})


class ProviderOutageFault(FaultBase):
    """An LLM provider route misbehaves: its links cut, stalled, slowed or erroring, or its
    streams broken, truncated or stalled mid-answer."""

    scenario: Literal["provider_outage"]
    mode: Literal["down", "blackhole", "reset", "latency", "slow", "http_errors", "partial",
                  "stream_error", "stream_truncate", "stream_stall"]
    latency: Duration | None = None
    jitter: Duration | None = None
    rate_kbps: int | None = Field(default=None, ge=1)
    toxicity: Percent | None = None
    """partial: share of connections hit; http_errors: share of requests answered with `status`;
    stream_*: share of requests whose stream breaks (default 100%)."""
    status: Literal[429, 500, 503] | None = None
    retry_after: Duration | None = None
    after_chunks: Count | None = None
    """stream_*: token chunks sent before the stream breaks (default 1)."""
    code: ErrorCode | None = None
    """stream_error: the in-band error's code (default `overloaded_error`)."""
    regions: tuple[str, ...] | None = None
    """Only the provider links of these regions (default: all of them)."""

    @model_validator(mode="after")
    def _mode_params(self) -> ProviderOutageFault:
        required, accepted = _PROVIDER_PARAMS[self.mode]
        for name in sorted(required):
            if getattr(self, name) is None:
                raise field_error(name, f"mode '{self.mode}' needs '{name}'")
        for name in _PROVIDER_OPTIONAL:
            if getattr(self, name) is not None and name not in required | accepted:
                raise field_error(name, f"'{name}' does not apply to mode '{self.mode}'")
        return self


def _network_only(fault: RedisLossFault | RegionFailoverFault, name: str) -> None:
    if getattr(fault, name) is not None and fault.mode != "network":
        raise field_error(name, f"'{name}' does not apply to mode '{fault.mode}'")


class RedisLossFault(FaultBase):
    """Redis goes away: killed, stopped, paused, or its links cut."""

    scenario: Literal["redis_loss"]
    target: str = Field(default="redis", min_length=1)
    mode: Literal["kill", "stop", "pause", "network"]
    cut: Literal["down", "reset"] | None = None
    """mode network: disable the Redis proxies (`down`, the default: refused, open connections
    closed) or add reset_peer toxics both ways (`reset`: every connection reset on its next data)."""

    @model_validator(mode="after")
    def _mode_params(self) -> RedisLossFault:
        _network_only(self, "cut")
        return self


class RegionFailoverFault(FaultBase):
    """A region becomes unreachable (links cut), stopped, or drained by an operator."""

    scenario: Literal["region_failover"]
    mode: Literal["network", "stop", "drain"]
    via: Literal["toxiproxy", "docker_network"] | None = None
    """mode network: disable the region's Toxiproxy proxies (`toxiproxy`, the default) or
    disconnect its service containers from the region's Docker networks (`docker_network`;
    aliases restored on reconnect)."""

    @model_validator(mode="after")
    def _mode_params(self) -> RegionFailoverFault:
        _network_only(self, "via")
        return self


Fault = Annotated[
    ProviderOutageFault | RedisLossFault | RegionFailoverFault,
    Field(discriminator="scenario"),
]
