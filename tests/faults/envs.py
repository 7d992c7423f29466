"""Environments for fault tests: the local.yaml shape pointed at the test's own servers, loaded
through chaos.spec (the real parser)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import anyio

from chaos.faults import ProxyConfig, ToxiproxyClient
from chaos.spec.environment import Environment
from chaos.spec.loader import parse_environment
from chaos.testbed.state import ComponentState, TestbedState, save_state, spawn
from tests.servers import free_port, require_binary, wait_for

PROXIES = ("us-east-primary", "us-west-primary", "us-east-fallback", "us-east-redis",
           "us-west-redis", "router-us-east", "router-us-west")


def environment_yaml(toxiproxy_api: str, state_file: Path, *, runtime: str = "process",
                     redis_service: str = "{process: redis}", extra_services: str = "",
                     region_services: str = "[]") -> str:
    runtime_block = (f"  kind: process\n  state_file: {state_file}" if runtime == "process"
                     else "  kind: docker")
    return f"""\
version: 1
name: faults-test
kind: local
target:
  base_url: http://127.0.0.1:1
toxiproxy:
  api: {toxiproxy_api}
runtime:
{runtime_block}
services:
  redis: {redis_service}
{extra_services}
topology:
  primary_route: primary
  providers:
    primary:
      proxies: [us-east-primary, us-west-primary]
    fallback:
      proxies: [us-east-fallback]
  redis:
    proxies: [us-east-redis, us-west-redis]
    services: [redis]
  regions:
    us-east:
      proxies: [router-us-east]
      services: {region_services}
    us-west:
      proxies: [router-us-west]
metrics:
  scrape: [http://127.0.0.1:1/metrics]
"""


def load_env(text: str) -> Environment:
    return parse_environment(text, path="faults-test.yaml")


def make_proxies(toxiproxy_api: str, upstream: str) -> dict[str, int]:
    """Create every topology proxy (all to `upstream`); returns name -> listen port."""
    async def go() -> dict[str, int]:
        async with ToxiproxyClient(toxiproxy_api) as tp:
            made = await tp.populate([ProxyConfig(n, "127.0.0.1:0", upstream) for n in PROXIES])
            return {p.name: p.listen_port for p in made}

    result: dict[str, int] = anyio.run(go)
    return result


def spawn_redis(state_file: Path) -> ComponentState:
    """A real redis-server started the way the testbed launcher starts it, recorded in a
    state file in the testbed's format."""
    binary = require_binary("redis-server")
    port = free_port()
    workdir = state_file.parent
    comp = ComponentState(
        name="redis", pid=0,
        argv=[binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
              "--appendonly", "no", "--dir", str(workdir), "--protected-mode", "no"],
        env=dict(os.environ), cwd=str(workdir), log_path=str(workdir / "redis.log"),
        port=port, health_url=None)
    pid = spawn(comp)
    comp = ComponentState(**{**comp.__dict__, "pid": pid})
    save_state(state_file, TestbedState(components={"redis": comp}))
    wait_for(lambda: redis_ping(port, 0.2), 10, "redis-server")
    return comp


def redis_ping(port: int, timeout_s: float) -> bool:
    import socket

    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout_s) as s:
            s.sendall(b"PING\r\n")
            return s.recv(16).startswith(b"+PONG")
    except OSError:
        return False


PYTHON = sys.executable
