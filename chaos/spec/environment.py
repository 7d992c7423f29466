"""The Environment model: target, Toxiproxy, runtime, services, topology, metrics, guardrails."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any, Literal

from pydantic import Field, model_validator

from chaos.spec.base import SpecModel, field_error
from chaos.spec.faults import SCENARIOS, Scenario
from chaos.spec.units import Count, Duration

Kind = Literal["local", "compose", "staging", "production"]


class Auth(SpecModel):
    token: str
    """Bearer token, usually `${VAR}`; `{subject}` is replaced per stream by the load driver."""
    subjects: Count = 1


class Target(SpecModel):
    base_url: str = Field(pattern=r"^(https?://|\$\{).+")
    chat_path: str = "/api/chat"
    health_path: str = "/health"
    region_header: str | None = None
    auth: Auth | None = None


class Toxiproxy(SpecModel):
    api: str = Field(pattern=r"^(https?://|\$\{).+")


class ProcessRuntime(SpecModel):
    """Services are local processes (the embedded testbed); pids come from its state file."""

    kind: Literal["process"]
    state_file: str


class DockerRuntime(SpecModel):
    """Services are Docker containers (optionally a compose project's services)."""

    kind: Literal["docker"]
    docker_host: str | None = None
    compose_project: str | None = None
    """The compose project whose `compose_service` refs are meant (`${VAR}` allowed)."""


Runtime = Annotated[ProcessRuntime | DockerRuntime, Field(discriminator="kind")]


class ServiceRef(SpecModel):
    """What the runtime acts on for one service: exactly one of the three."""

    process: str | None = None
    container: str | None = None
    compose_service: str | None = None

    @property
    def ref_kind(self) -> Literal["process", "container", "compose_service"]:
        if self.process is not None:
            return "process"
        return "container" if self.container is not None else "compose_service"

    @property
    def ref_name(self) -> str:
        value = self.process or self.container or self.compose_service
        assert value is not None  # Invariant: exactly one is set (validated)
        return value

    @model_validator(mode="after")
    def _exactly_one(self) -> ServiceRef:
        given = [n for n in ("process", "container", "compose_service") if getattr(self, n)]
        if len(given) != 1:
            raise ValueError(
                "give exactly one of 'process', 'container' or 'compose_service'"
            )
        return self


class ProviderRoute(SpecModel):
    proxies: tuple[str, ...] = ()
    services: tuple[str, ...] = ()
    http_fault: str | None = None
    """URL of the provider's HTTP fault switch (needed for mode http_errors)."""


class RedisTopology(SpecModel):
    proxies: tuple[str, ...] = ()
    services: tuple[str, ...] = ()


class HttpAction(SpecModel):
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"] = "POST"
    url: str = Field(pattern=r"^(https?://|\$\{).+")
    body: Any = None
    expect_status: int = Field(default=200, ge=100, le=599)


class Region(SpecModel):
    proxies: tuple[str, ...] = ()
    services: tuple[str, ...] = ()
    networks: tuple[str, ...] = ()
    """Docker networks the region's service containers are cut from by region_failover
    `via: docker_network` (`${VAR}` allowed)."""
    health_url: str | None = None
    drain: HttpAction | None = None
    undrain: HttpAction | None = None

    @model_validator(mode="after")
    def _drain_pair(self) -> Region:
        if (self.drain is None) != (self.undrain is None):
            missing = "undrain" if self.undrain is None else "drain"
            raise field_error(missing, f"'drain' and 'undrain' go together; '{missing}' is missing")
        return self


class Topology(SpecModel):
    primary_route: str
    providers: dict[str, ProviderRoute]
    redis: RedisTopology | None = None
    regions: dict[str, Region] = Field(default_factory=dict)


class MetricQueries(SpecModel):
    """Logical series -> metric selector (defaults: the testbed's names)."""

    circuit_state: str = "provider_circuit_state"
    queue_oldest_age_s: str = "queue_oldest_job_age_seconds"
    queue_depth: str = "queue_depth"
    active_region: str = "router_active_region"
    failovers_total: str = "router_failovers_total"
    redis_up: str = "redis_up"
    hard_failures: str = 'chat_requests_total{code=~"redis_unavailable|invalid_token|gateway_unhealthy"}'


class Metrics(SpecModel):
    interval: Duration = timedelta(seconds=1)
    timeout: Duration = timedelta(milliseconds=800)
    scrape: tuple[str, ...] = ()
    prometheus: str | None = None
    """Prometheus HTTP API base URL (PromQL), instead of or besides direct scrapes."""
    queries: MetricQueries = MetricQueries()

    @model_validator(mode="after")
    def _a_source(self) -> Metrics:
        if not self.scrape and self.prometheus is None:
            raise field_error("scrape", "give 'scrape' URLs and/or a 'prometheus' API URL")
        if self.interval <= timedelta(0):
            raise field_error("interval", "the interval must be longer than 0s")
        return self


class Logs(SpecModel):
    files: tuple[str, ...] = ()
    containers: tuple[str, ...] = ()
    command: str | None = None


class Release(SpecModel):
    class_b_drills: tuple[str, ...] = ()


class Guardrails(SpecModel):
    allowed_scenarios: tuple[Scenario, ...] = SCENARIOS
    max_fault_duration: Duration = timedelta(minutes=30)
    allowed_hosts: tuple[str, ...] | None = None
    """Hosts the driver may target (default: the hosts this file names)."""


class Environment(SpecModel):
    """Where a drill runs and how its faults reach the system."""

    version: Literal[1]
    name: str = Field(min_length=1)
    kind: Kind
    target: Target
    toxiproxy: Toxiproxy
    runtime: Runtime
    services: dict[str, ServiceRef] = Field(default_factory=dict)
    topology: Topology
    metrics: Metrics
    logs: Logs | None = None
    release: Release | None = None
    guardrails: Guardrails = Guardrails()
