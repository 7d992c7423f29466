"""A whole testbed on free ports, for end-to-end tests of any package.

Usage (the lead wires a fixture into tests/conftest.py)::

    @pytest.fixture(scope="module")
    def testbed(tmp_path_factory):
        with running_testbed(tmp_path_factory) as tb:
            yield tb

`tb.env_path` is an environment YAML with the same structure as environments/local.yaml, with
this instance's ports, state file and log files substituted.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from chaos.testbed import TestbedConfig, TestbedState, default_config, start_testbed, stop_testbed
from tests.servers import free_ports

REPO = Path(__file__).resolve().parent.parent
LOCAL_ENV = REPO / "environments" / "local.yaml"

# Short timings so that failover and circuit tests finish in seconds.
FAST: dict[str, Any] = {
    "router": {"health_interval_s": 0.2, "health_timeout_s": 0.5, "failover_after": 2,
               "failback_after": 2},
    "gateway": {"circuit_open_duration_s": 1.0, "circuit_failure_threshold": 2,
                "circuit_half_open_probes": 1, "redis_timeout_s": 0.5},
    "provider": {"first_token_delay_ms": 50, "token_interval_ms": 10, "tokens": 5, "jitter_ms": 2},
}


@dataclass(frozen=True)
class RunningTestbed:
    state: TestbedState
    config: TestbedConfig
    state_path: Path
    env_path: Path

    @property
    def base_url(self) -> str:
        return self.state.base_url

    @property
    def log_dir(self) -> Path:
        return Path(self.state.log_dir)

    def gateway_url(self, region: str) -> str:
        return f"http://127.0.0.1:{self.config.ports.gateways[region]}"

    def provider_url(self, route: str) -> str:
        return f"http://127.0.0.1:{self.config.ports.providers[route]}"


def free_port_config(overrides: dict[str, Any] | None = None) -> TestbedConfig:
    """The defaults with every port replaced by a free one, plus FAST timings and `overrides`."""
    base = default_config()
    pool = iter(free_ports(3 + len(base.ports.gateways) + len(base.ports.providers)
                           + len(base.proxies)))
    ports = {"router": next(pool), "redis": next(pool), "toxiproxy": next(pool),
             "gateways": {r: next(pool) for r in base.ports.gateways},
             "providers": {r: next(pool) for r in base.ports.providers}}
    cfg = base.with_overrides({"ports": ports, "proxies": {n: next(pool) for n in base.proxies}})
    cfg = cfg.with_overrides(FAST)
    return cfg.with_overrides(overrides or {})


def write_environment(config: TestbedConfig, state_path: Path, out: Path) -> Path:
    """environments/local.yaml with this instance's ports, state file and logs substituted."""
    d = default_config()
    port_map = {d.ports.router: config.ports.router, d.ports.toxiproxy: config.ports.toxiproxy,
                d.ports.redis: config.ports.redis}
    port_map.update({d.ports.gateways[r]: p for r, p in config.ports.gateways.items()})
    port_map.update({d.ports.providers[r]: p for r, p in config.ports.providers.items()})
    log_dir = str(state_path.parent / "logs")

    def sub(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: sub(v) for k, v in value.items()}
        if isinstance(value, list):
            return [sub(v) for v in value]
        if isinstance(value, str):
            value = re.sub(r"127\.0\.0\.1:(\d+)",
                           lambda m: f"127.0.0.1:{port_map.get(int(m.group(1)), int(m.group(1)))}",
                           value)
            if "state.json" in value:
                return str(state_path)
            return value.replace("~/.chaos/testbed/logs", log_dir)
        return value

    env = sub(yaml.safe_load(LOCAL_ENV.read_text("utf-8")))
    env.pop("release", None)  # no class B drills: release tests declare their own
    env["name"] = f"testbed-{config.ports.router}"
    out.write_text(yaml.safe_dump(env, sort_keys=False), "utf-8")
    return out


@contextmanager
def running_testbed(tmp_path_factory: pytest.TempPathFactory,
                    overrides: dict[str, Any] | None = None) -> Iterator[RunningTestbed]:
    """Start the whole testbed on free ports (FAST timings + `overrides`); always stops it."""
    root = tmp_path_factory.mktemp("testbed")
    state_path = root / "state.json"
    config = free_port_config(overrides)
    state = start_testbed(config, state_path, timeout_s=60.0)
    try:
        env_path = write_environment(config, state_path, root / "environment.yaml")
        yield RunningTestbed(state, config, state_path, env_path)
    finally:
        stop_testbed(state_path)
