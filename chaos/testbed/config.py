"""The testbed's configuration: ports, proxy listen ports and component settings (frozen models)."""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

REGIONS: tuple[str, ...] = ("us-east", "us-west")
ROUTES: tuple[str, ...] = ("primary", "fallback")
PROXY_NAMES: tuple[str, ...] = (
    "router-us-east",
    "router-us-west",
    "us-east-primary",
    "us-east-fallback",
    "us-west-primary",
    "us-west-fallback",
    "us-east-redis",
    "us-west-redis",
)
HOST = "127.0.0.1"


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Ports(_Model):
    router: int = Field(ge=1, le=65535)
    gateways: dict[str, int]
    providers: dict[str, int]
    redis: int = Field(ge=1, le=65535)
    toxiproxy: int = Field(ge=1, le=65535)

    @model_validator(mode="after")
    def _names(self) -> Ports:
        if set(self.gateways) != set(REGIONS):
            raise ValueError(f"gateways must name exactly {list(REGIONS)}")
        if set(self.providers) != set(ROUTES):
            raise ValueError(f"providers must name exactly {list(ROUTES)}")
        return self


class ProviderSettings(_Model):
    first_token_delay_ms: float = Field(ge=0)
    token_interval_ms: float = Field(ge=0)
    tokens: int = Field(ge=1)
    jitter_ms: float = Field(ge=0)
    seed: int


class GatewaySettings(_Model):
    redis_timeout_s: float = Field(gt=0)
    fail_open: bool
    rate_limit_requests: int = Field(ge=0)
    rate_limit_window_s: float = Field(gt=0)
    concurrency_cap: int = Field(ge=1)
    provider_concurrency: int = Field(ge=1)
    queue_timeout_s: float = Field(gt=0)
    provider_connect_timeout_s: float = Field(gt=0)
    provider_read_timeout_s: float = Field(gt=0)
    circuit_failure_threshold: int = Field(ge=1)
    circuit_open_duration_s: float = Field(gt=0)
    circuit_half_open_probes: int = Field(ge=1)
    # Active health check of a route whose circuit is past its open duration (never while closed).
    health_check_interval_s: float = Field(gt=0)
    health_check_timeout_s: float = Field(gt=0)
    max_message_chars: int = Field(ge=1)
    log_message_text: bool  # test hook: lets the release drill's privacy check fail on purpose


class RouterSettings(_Model):
    home_region: Literal["us-east", "us-west"]
    health_interval_s: float = Field(gt=0)
    health_timeout_s: float = Field(gt=0)
    failover_after: int = Field(ge=1)
    failback_after: int = Field(ge=1)
    failback: Literal["auto", "manual"]


class TestbedConfig(_Model):
    """Everything the launcher and the components need; all listen on 127.0.0.1."""

    __test__ = False  # not a pytest test class despite the name

    ports: Ports
    proxies: dict[str, int]
    provider: ProviderSettings
    gateway: GatewaySettings
    router: RouterSettings
    # Where components listen and where they reach Toxiproxy's proxies: 127.0.0.1 for the
    # process testbed; the compose stack sets 0.0.0.0 and the Toxiproxy service name.
    listen_host: str = HOST
    upstream_host: str = HOST

    @model_validator(mode="after")
    def _proxies(self) -> TestbedConfig:
        if set(self.proxies) != set(PROXY_NAMES):
            raise ValueError(f"proxies must name exactly {list(PROXY_NAMES)}")
        return self

    def all_ports(self) -> dict[str, int]:
        """Every port the testbed listens on, by a human label (for the busy-port check)."""
        out = {"router": self.ports.router, "redis": self.ports.redis,
               "toxiproxy": self.ports.toxiproxy}
        out.update({f"gateway-{r}": p for r, p in self.ports.gateways.items()})
        out.update({f"provider-{r}": p for r, p in self.ports.providers.items()})
        out.update({f"proxy {n}": p for n, p in self.proxies.items()})
        return out

    def proxy_upstreams(self) -> dict[str, str]:
        """Toxiproxy proxy name -> the upstream address it forwards to."""
        up = {f"router-{r}": f"{HOST}:{self.ports.gateways[r]}" for r in REGIONS}
        for region in REGIONS:
            for route in ROUTES:
                up[f"{region}-{route}"] = f"{HOST}:{self.ports.providers[route]}"
            up[f"{region}-redis"] = f"{HOST}:{self.ports.redis}"
        return up

    def with_overrides(self, overrides: dict[str, Any]) -> TestbedConfig:
        """A copy with `overrides` deep-merged in (validated again)."""
        return TestbedConfig.model_validate(_merge(self.model_dump(), overrides))


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def _defaults_text() -> str:
    return resources.files("chaos.testbed").joinpath("defaults.yaml").read_text("utf-8")


def default_config() -> TestbedConfig:
    """The documented defaults (chaos/testbed/defaults.yaml)."""
    return TestbedConfig.model_validate(yaml.safe_load(_defaults_text()))


def load_config(path: Path | None) -> TestbedConfig:
    """Defaults overridden by the YAML file at `path`; errors name the file, line and field."""
    base = yaml.safe_load(_defaults_text())
    if path is None:
        return TestbedConfig.model_validate(base)
    # Imported here: component processes load JSON configs and need not import the spec package.
    from chaos.spec.loader import load_model

    return load_model(path, TestbedConfig, what="the testbed config", empty_ok=True,
                      prepare=lambda data: _merge(base, data))
