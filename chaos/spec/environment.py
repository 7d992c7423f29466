"""The Environment model: target, Toxiproxy, runtime, services, topology, metrics, guardrails."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any, Literal

from pydantic import Field, model_validator

from chaos.protocols import AnthropicProfile, CustomProfile, OpenAIProfile, Profile
from chaos.spec.base import SpecModel, field_error
from chaos.spec.faults import SCENARIOS, Scenario
from chaos.spec.units import Duration, PositiveCount
from chaos.spec.urls import HeaderName, Url, UrlPath

Kind = Literal["local", "compose", "staging", "production"]


class Auth(SpecModel):
    token: str
    """Bearer token, usually `${VAR}`; `{subject}` is replaced per stream by the load driver."""
    subjects: PositiveCount = 1


class CustomProtocol(SpecModel):
    """How a custom chat endpoint is spoken (defaults: the embedded testbed's `/api/chat`)."""

    body: str = '{"message": {payload}}'
    """JSON body template; `{payload}`, `{subject}` and `{model}` become JSON strings."""
    done_data: str | None = "[DONE]"
    """The stream is complete when a data line equals this ..."""
    done_event: str | None = None
    """... or when an event has this name."""
    error_events: tuple[str, ...] = ("error",)
    """Event names that are in-band errors."""
    error_pointer: str | None = Field(default="/error", pattern=r"^(/.*)?$")
    """JSON pointer into a data line: a value there (not null/false) is an in-band error."""
    content_events: tuple[str, ...] = ()
    """Event names that carry content (default: see content_pointer)."""
    content_pointer: str | None = Field(default="/token", pattern=r"^(/.*)?$")
    """JSON pointer into a data line: a non-empty value there is content. With neither
    content_events nor content_pointer, every other data event is content."""
    usage_pointer: str | None = Field(default=None, pattern=r"^(/.*)?$")
    """JSON pointer to the output token count, where the endpoint reports one."""
    auth_header: str = "Authorization"
    auth_scheme: str = "Bearer"

    @model_validator(mode="after")
    def _completion_rule(self) -> CustomProtocol:
        if self.done_data is None and self.done_event is None:
            raise field_error("done_data", "give 'done_data' or 'done_event': a stream needs a "
                                           "completion rule, or no stream can ever count as complete")
        if "{payload}" not in self.body:
            raise field_error("body", "the body template needs '{payload}'")
        return self


Protocol = Literal["openai", "anthropic", "custom"]
DEFAULT_CHAT_PATHS: dict[str, str] = {
    "openai": "/v1/chat/completions", "anthropic": "/v1/messages", "custom": "/api/chat",
}


class Target(SpecModel):
    base_url: Url
    protocol: Protocol = "custom"
    """Wire format: openai (/v1/chat/completions), anthropic (/v1/messages) or custom
    (see `custom`; its defaults are the embedded testbed's /api/chat dialect)."""
    chat_path: UrlPath | None = None
    """Default: the protocol's (/v1/chat/completions, /v1/messages, /api/chat)."""
    health_path: UrlPath = "/health"
    region_header: HeaderName | None = None
    auth: Auth | None = None
    model: str | None = None
    """The model name sent in every request (needed by openai and anthropic)."""
    max_tokens: int | None = Field(default=None, ge=1, le=1_000_000)
    """Cap on output tokens per request (anthropic default 256; openai: not sent)."""
    anthropic_version: str = "2023-06-01"
    headers: dict[str, str] = Field(default_factory=dict)
    """Extra headers on chat requests and health probes (`${VAR}` allowed; secret values
    never reach evidence)."""
    request_id_header: str = Field(default="x-request-id", pattern=r"^[A-Za-z0-9-]{1,64}$")
    """Header carrying a unique id on every load request; failed ones are listed by it in
    the evidence, to be found in the platform's own logs."""
    custom: CustomProtocol = CustomProtocol()

    @property
    def chat_path_resolved(self) -> str:
        return self.chat_path or DEFAULT_CHAT_PATHS[self.protocol]

    def profile(self) -> Profile:
        """The protocol profile that builds this target's requests and reads its streams."""
        if self.protocol == "openai":
            assert self.model is not None  # Invariant: validated
            return OpenAIProfile(model=self.model, max_tokens=self.max_tokens)
        if self.protocol == "anthropic":
            assert self.model is not None
            return AnthropicProfile(model=self.model, max_tokens=self.max_tokens or 256,
                                    version=self.anthropic_version)
        c = self.custom
        return CustomProfile(
            body=c.body, done_data=c.done_data, done_event=c.done_event,
            error_events=c.error_events, error_pointer=c.error_pointer or None,
            content_events=c.content_events, content_pointer=c.content_pointer or None,
            usage_pointer=c.usage_pointer or None, model=self.model,
            auth_header=c.auth_header, auth_scheme=c.auth_scheme,
        )

    @model_validator(mode="after")
    def _protocol_needs(self) -> Target:
        if self.protocol in ("openai", "anthropic") and not self.model:
            raise field_error("model", f"protocol {self.protocol} needs 'model' (the model name "
                                       "the target expects in every request)")
        if "custom" in self.model_fields_set and self.protocol != "custom":
            raise field_error("custom", f"'custom' applies to protocol custom, not {self.protocol}")
        return self


class Toxiproxy(SpecModel):
    api: Url


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
    http_fault: Url | None = None
    """URL of the provider's HTTP fault switch (needed for modes http_errors and stream_*)."""


class RedisTopology(SpecModel):
    proxies: tuple[str, ...] = ()
    services: tuple[str, ...] = ()


class HttpAction(SpecModel):
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"] = "POST"
    url: Url
    body: Any = None
    expect_status: int = Field(default=200, ge=100, le=599)


class Region(SpecModel):
    proxies: tuple[str, ...] = ()
    services: tuple[str, ...] = ()
    networks: tuple[str, ...] = ()
    """Docker networks the region's service containers are cut from by region_failover
    `via: docker_network` (`${VAR}` allowed)."""
    health_url: Url | None = None
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
    scrape: tuple[Url, ...] = ()
    headers: dict[str, str] = Field(default_factory=dict)
    """Headers on every scrape and Prometheus query, e.g. a bearer token (`${VAR}` allowed)."""
    prometheus: Url | None = None
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


class LoadBackend(SpecModel):
    """Where the load workers run: `local` processes on this host, or `ray` actors spread
    over a Ray cluster's nodes (`pip install 'chaos-drills[ray]'`); faults, probes and the
    journal stay with the run either way."""

    backend: Literal["local", "ray"] = "local"
    address: str | None = Field(default=None, pattern=r"^(auto|ray://[^\s/]+|[^\s/:]+:\d{1,5})$")
    """Ray: `auto` (the cluster this host is in, or RAY_ADDRESS), `ray://host:10001`,
    `host:port`; unset starts a local Ray for the run."""
    workers: int | None = Field(default=None, ge=1, le=1024)
    """Ray: workers in all (default: the drill's `load.workers`)."""
    workers_per_node: int | None = Field(default=None, ge=1, le=256)
    """Ray: workers on every node that has `resources` and `labels`."""
    resources: dict[str, Annotated[float, Field(gt=0, le=1e6)]] = Field(default_factory=dict)
    """Ray: custom resources each worker reserves (place workers on load nodes only)."""
    labels: dict[str, str] = Field(default_factory=dict)
    """Ray: labels a worker's node must carry."""
    strategy: Literal["SPREAD", "STRICT_SPREAD"] = "SPREAD"
    """Ray placement: SPREAD (as even as possible) or STRICT_SPREAD (one worker per node)."""

    @model_validator(mode="after")
    def _ray_settings(self) -> LoadBackend:
        import importlib.util

        if self.backend == "local":
            given = sorted(self.model_fields_set - {"backend"})
            if given:
                raise field_error(given[0], f"'{given[0]}' applies to backend ray only")
        elif self.workers is not None and self.workers_per_node is not None:
            raise field_error("workers_per_node", "give 'workers' or 'workers_per_node', not both")
        elif importlib.util.find_spec("ray") is None:
            raise field_error("backend", "backend ray needs Ray, which is not installed: "
                                         "pip install 'chaos-drills[ray]'")
        return self


class KillSwitch(SpecModel):
    """Set by remote operators to stop this environment's drill and refuse new ones: a file
    that exists, or a URL answering 200 with "abort" / `{"abort": true}` (docs/gameday.md)."""

    file: str | None = Field(default=None, min_length=1)
    url: Url | None = None

    @model_validator(mode="after")
    def _one(self) -> KillSwitch:
        if (self.file is None) == (self.url is None):
            raise field_error("file", "give exactly one of 'file' or 'url'")
        return self


class Guardrails(SpecModel):
    allowed_scenarios: tuple[Scenario, ...] = SCENARIOS
    max_fault_duration: Duration = timedelta(minutes=30)
    allowed_hosts: tuple[str, ...] | None = None
    """Hosts the driver may target (default: the hosts this file names)."""
    kill_switch: KillSwitch | None = None
    """Stops the running drill and refuses new ones while set (docs/gameday.md)."""


class SecretNames(SpecModel):
    """Query parameters and headers whose values are secrets, wherever they appear: redacted
    by value from evidence, logs and output (besides every `${VAR}` value, the auth token,
    URL userinfo, and names such as `token`, `sig` or `authorization`)."""

    query_params: tuple[str, ...] = ()
    headers: tuple[HeaderName, ...] = ()


class Grafana(SpecModel):
    """Where the drill's annotations go (Grafana's HTTP annotations API)."""

    url: Url
    token: str = Field(min_length=1)
    """A service account token, as `${VAR}` (sent as `Authorization: Bearer`)."""
    dashboard_uid: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_-]{1,40}$")
    """Annotate this dashboard (default: organisation annotations, shown by tag)."""
    tags: tuple[str, ...] = ()
    """Tags on every annotation, besides `chaos` and the drill's name."""


class Dashboards(SpecModel):
    """The drill on the team's dashboards (docs/dashboards.md)."""

    metrics_listen: str | None = Field(default=None, pattern=r"^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):\d{1,5}$")
    """HOST:PORT where the drill serves its own Prometheus metrics while it runs."""
    grafana: Grafana | None = None


class Environment(SpecModel):
    """Where a drill runs and how its faults reach the system."""

    version: Literal[1]
    name: str = Field(min_length=1, max_length=100)
    kind: Kind
    target: Target
    toxiproxy: Toxiproxy
    runtime: Runtime
    services: dict[str, ServiceRef] = Field(default_factory=dict)
    topology: Topology
    metrics: Metrics
    dashboards: Dashboards | None = None
    load: LoadBackend = LoadBackend()
    logs: Logs | None = None
    release: Release | None = None
    guardrails: Guardrails = Guardrails()
    secrets: SecretNames = SecretNames()
