"""The load configuration: what traffic to drive, at which target, within which limits."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from typing import Literal
from urllib.parse import urlsplit

from chaos.errors import LoadError
from chaos.protocols import CustomProfile, Profile

LoadModel = Literal["closed", "open"]

# Hosts the driver may target when a config names none: loopback only.
LOOPBACK_HOSTS: tuple[str, ...] = ("127.0.0.1", "localhost", "::1")


@dataclass(frozen=True, slots=True)
class Target:
    """The parsed request target: where to connect and what to put in the request line."""

    scheme: str
    host: str
    port: int
    path: str  # path with query, e.g. "/api/chat?x=1"

    @property
    def tls(self) -> bool:
        return self.scheme == "https"

    @property
    def host_header(self) -> str:
        default = 443 if self.tls else 80
        name = f"[{self.host}]" if ":" in self.host else self.host
        return name if self.port == default else f"{name}:{self.port}"


@dataclass(frozen=True, slots=True)
class LoadConfig:
    """One run's load: request shape, model, schedule, timeouts and self-saturation limits.

    Closed model: `streams` concurrent streams, each issuing requests back to back (with
    `think_time_s` between them), started linearly over `ramp_up_s` and stopped linearly
    over `ramp_down_s`. Open model: `rate_per_s` arrivals per second (ramped linearly),
    at most `max_in_flight` at once; latency counts from the intended start.
    """

    url: str
    token_template: str = ""  # may contain "{subject}"; empty: no Authorization header
    subjects: int = 1  # stream k uses subject "s<k % subjects>"
    message: str = "hi"
    protocol: Profile = field(default_factory=CustomProfile)  # request bytes and stream rules
    headers: tuple[tuple[str, str], ...] = ()  # sent with every request (already expanded)
    window_cuts_s: tuple[float, ...] = ()  # phase boundaries (s after load start): windows end there too
    model: LoadModel = "closed"
    streams: int = 1
    rate_per_s: float = 0.0
    max_in_flight: int = 1000
    think_time_s: float = 0.0
    ramp_up_s: float = 0.0
    hold_s: float = 10.0
    ramp_down_s: float = 0.0
    connect_timeout_s: float = 5.0
    first_byte_timeout_s: float = 30.0
    stall_timeout_s: float = 30.0  # a 2xx stream with no event this long is stalled
    total_timeout_s: float = 120.0
    region_header: str = "x-served-by-region"
    request_id_header: str = "x-request-id"  # a unique id on every request (the ledger's key)
    workers: int = field(default_factory=lambda: os.cpu_count() or 1)
    run_id: str = "run"
    max_lag_p99_ms: float = 10.0
    max_cpu_percent: float = 70.0
    graceful_s: float = 5.0  # in-flight streams get this long at the end, then are cancelled
    allowed_hosts: tuple[str, ...] = LOOPBACK_HOSTS
    late_slack_s: float = 0.010  # open model: a start later than this after its intended instant is late

    def __post_init__(self) -> None:
        problems: list[str] = []
        if self.model not in ("closed", "open"):
            problems.append(f"model must be closed or open, not {self.model!r}")
        if self.model == "closed" and self.streams < 1:
            problems.append("closed model needs streams >= 1")
        if self.model == "open" and (self.rate_per_s <= 0 or self.max_in_flight < 1):
            problems.append("open model needs rate_per_s > 0 and max_in_flight >= 1")
        if self.subjects < 1 or self.workers < 1:
            problems.append("subjects and workers must be >= 1")
        problems.extend(
            f"{name} must be >= 0"
            for name in ("ramp_up_s", "hold_s", "ramp_down_s", "think_time_s", "graceful_s")
            if getattr(self, name) < 0
        )
        problems.extend(
            f"{name} must be > 0"
            for name in ("connect_timeout_s", "first_byte_timeout_s", "stall_timeout_s", "total_timeout_s")
            if getattr(self, name) <= 0
        )
        if problems:
            raise LoadError("invalid load config: " + "; ".join(problems))

    @property
    def duration_s(self) -> float:
        """The load schedule without the graceful end."""
        return self.ramp_up_s + self.hold_s + self.ramp_down_s

    def target(self) -> Target:
        """The parsed URL, refused unless its host is in `allowed_hosts`."""
        parts = urlsplit(self.url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise LoadError(f"load target must be an http(s) URL with a host, not {self.url!r}")
        host = parts.hostname
        if host not in self.allowed_hosts:
            raise LoadError(
                f"load target host {host!r} is not among the allowed hosts {list(self.allowed_hosts)}"
            )
        port = parts.port or (443 if parts.scheme == "https" else 80)
        path = parts.path or "/"
        if parts.query:
            path += "?" + parts.query
        return Target(parts.scheme, host, port, path)

    def with_(self, **changes: object) -> LoadConfig:
        """A copy with some fields changed (validated again)."""
        return replace(self, **changes)  # type: ignore[arg-type]  # field names checked by replace


def _profile(streams: int) -> LoadConfig:
    return LoadConfig(
        url="http://127.0.0.1:8080/api/chat",
        model="closed",
        streams=streams,
        subjects=max(1, streams // 10),
        ramp_up_s=60.0,
        hold_s=1800.0,
        ramp_down_s=30.0,
    )


# Catalog load profiles (DESIGN section 5): closed model, concurrent streams per tier.
# The orchestrator replaces url, token, durations and run_id from the drill.
PROFILES: dict[str, LoadConfig] = {
    "m1_1k": _profile(1_000),
    "m2_5k": _profile(5_000),
    "m3_20k": _profile(20_000),
}
