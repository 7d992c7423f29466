"""An environment file for preflight tests, pointing at the session's real Toxiproxy."""

from __future__ import annotations

from pathlib import Path


def write_env(tmp_path: Path, toxiproxy_api: str, *, base_url: str, state_file: Path) -> Path:
    """An environment naming five proxies (us-east-primary, us-west-primary, us-east-redis,
    router-us-east, router-us-west) and three processes."""
    text = f"""version: 1
name: preflight-test
kind: local
target:
  base_url: {base_url}
toxiproxy:
  api: {toxiproxy_api}
runtime:
  kind: process
  state_file: {state_file}
services:
  redis: {{process: redis}}
  provider-primary: {{process: provider-primary}}
  gateway-us-east: {{process: gateway-us-east}}
topology:
  primary_route: primary
  providers:
    primary:
      proxies: [us-east-primary, us-west-primary]
      services: [provider-primary]
  redis:
    proxies: [us-east-redis]
    services: [redis]
  regions:
    us-east:
      proxies: [router-us-east]
      services: [gateway-us-east]
    us-west:
      proxies: [router-us-west]
metrics:
  scrape: [{base_url}/metrics]
"""
    path = tmp_path / "env.yaml"
    path.write_text(text, encoding="utf-8")
    return path


DRILL = """version: 1
name: preflight-drill
tier: L
duration: 5m
load:
  streams: 10
  ramp_up: 10s
  ramp_down: 10s
faults:
  - id: cut-east
    scenario: region_failover
    target: us-east
    mode: network
    at: 1m
    for: 1m
  - id: slow-primary
    scenario: provider_outage
    target: primary
    mode: latency
    latency: 500ms
    at: 2m30s
    for: 30s
"""


def create_proxies(api: str, names: list[str]) -> None:
    import httpx

    with httpx.Client(base_url=api, timeout=5) as client:
        for name in names:
            response = client.post("/proxies", json={
                "name": name, "listen": "127.0.0.1:0", "upstream": "127.0.0.1:9"})
            response.raise_for_status()
