"""Helpers of the e2e drills: run a drill from experiments/ on the shared testbed, and put the
testbed back in a clean state (polling with deadlines, never sleeping for state)."""

from __future__ import annotations

import contextlib
import json
import socket
import time
from pathlib import Path
from typing import Any

import httpx

from chaos.run import RunOptions, RunResult, run_drill_sync
from chaos.spec import load_drill, load_environment
from chaos.testbed import component_alive, load_state, restart_component
from tests.servers import wait_for
from tests.testbed_fixture import RunningTestbed

REPO = Path(__file__).resolve().parents[2]
EXPERIMENTS = REPO / "experiments"
# The machine is shared and CPU-starved: the driver's event-loop lag limit is loosened to 100 ms
# (far below the 2,000-3,000 ms latency thresholds it protects).
MAX_DRIVER_LAG_MS = 100.0


def toxiproxy_api(tb: RunningTestbed) -> str:
    return f"http://127.0.0.1:{tb.config.ports.toxiproxy}"


def proxies(tb: RunningTestbed) -> dict[str, Any]:
    result: dict[str, Any] = httpx.get(f"{toxiproxy_api(tb)}/proxies", timeout=5).json()
    return result


def proxies_clean(tb: RunningTestbed) -> bool:
    return all(p["enabled"] and not p["toxics"] for p in proxies(tb).values())


def _circuits_closed(tb: RunningTestbed) -> bool:
    for region in tb.config.ports.gateways:
        try:
            text = httpx.get(f"{tb.gateway_url(region)}/metrics", timeout=2).text
        except httpx.HTTPError:
            return False
        for line in text.splitlines():
            if line.startswith("provider_circuit_state{") and float(line.rsplit(" ", 1)[1]) != 0.0:
                return False
    return True


def _home_active(tb: RunningTestbed) -> bool:
    try:
        r = httpx.get(f"{tb.base_url}/admin/regions", timeout=2)
        health = httpx.get(f"{tb.base_url}/health", timeout=2)
    except httpx.HTTPError:
        return False
    return (r.status_code == 200 and r.json().get("active_region") == tb.config.router.home_region
            and health.status_code == 200)


def _healthy(tb: RunningTestbed) -> bool:
    for url in (tb.gateway_url(r) for r in tb.config.ports.gateways):
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code != 200:
                return False
        except httpx.HTTPError:
            return False
    return True


def _router_requests(tb: RunningTestbed) -> float:
    text = httpx.get(f"{tb.base_url}/metrics", timeout=2).text
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.startswith("chat_requests_total{"))


def _quiet(tb: RunningTestbed) -> bool:
    """No chat request reached the router for 1 s (a killed run's load workers are gone)."""
    before = _router_requests(tb)
    deadline = time.monotonic() + 1.0
    while time.monotonic() < deadline:
        if _router_requests(tb) != before:
            return False
    return True


def _flush_redis(tb: RunningTestbed) -> None:
    """Forget the previous drill's per-subject rate-limit windows (drills reuse subjects s0..)."""
    with socket.create_connection(("127.0.0.1", tb.config.ports.redis), timeout=5) as conn:
        conn.sendall(b"*1\r\n$8\r\nFLUSHALL\r\n")
        reply = conn.recv(64)
    if not reply.startswith(b"+OK"):
        raise RuntimeError(f"redis FLUSHALL answered {reply!r}")


def reset_testbed(tb: RunningTestbed) -> None:
    state = load_state(tb.state_path)
    for name in state.components:
        if not component_alive(state, name):
            restart_component(tb.state_path, name)
    api = toxiproxy_api(tb)
    for name, p in proxies(tb).items():
        for toxic in p["toxics"]:
            httpx.delete(f"{api}/proxies/{name}/toxics/{toxic['name']}", timeout=5)
        if not p["enabled"]:
            httpx.post(f"{api}/proxies/{name}", json={"enabled": True}, timeout=5)
    for route in tb.config.ports.providers:
        httpx.delete(f"{tb.provider_url(route)}/admin/fault", timeout=5)
    for region in ("us-east", "us-west"):
        httpx.post(f"{tb.base_url}/admin/regions/{region}/undrain", timeout=5)
    wait_for(lambda: proxies_clean(tb), 10, "proxies clean")
    wait_for(lambda: _healthy(tb), 20, "gateways healthy")
    wait_for(lambda: _home_active(tb), 20, "home region active")
    # Open circuits close on the next successful request after their open duration.
    def closed() -> bool:
        if _circuits_closed(tb):
            return True
        for region in tb.config.ports.gateways:
            with contextlib.suppress(httpx.HTTPError):
                httpx.post(f"{tb.gateway_url(region)}/api/chat", json={"message": "hi"},
                           headers={"authorization": "Bearer tb-reset"}, timeout=5)
        return False
    try:
        wait_for(closed, 5, "circuits closed")
    except TimeoutError:
        # A circuit of a route that no longer gets traffic (the fallback, once the primary is
        # back) stays half-open: restart the gateways for a clean breaker state.
        for region in tb.config.ports.gateways:
            restart_component(tb.state_path, f"gateway-{region}")
        wait_for(lambda: _healthy(tb), 20, "gateways healthy after restart")
        wait_for(lambda: _home_active(tb), 20, "home region active after restart")
        wait_for(closed, 20, "circuits closed")
    wait_for(lambda: _quiet(tb), 30, "no traffic left from an earlier run")
    _flush_redis(tb)


def run(tb: RunningTestbed, drill_name: str, evidence_dir: Path, *, time_scale: float,
        load_scale: float) -> RunResult:
    path = EXPERIMENTS / f"{drill_name}.yaml"
    options = RunOptions(time_scale=time_scale, load_scale=load_scale, evidence_dir=evidence_dir,
                         live=False, max_driver_lag_ms=MAX_DRIVER_LAG_MS, drill_path=path,
                         env_path=tb.env_path)
    return run_drill_sync(load_drill(path), load_environment(tb.env_path), options)


def criteria(bundle: Path) -> dict[str, dict[str, Any]]:
    doc = json.loads((bundle / "evidence.json").read_text("utf-8"))
    return {c["id"]: c for c in doc["criteria"]}


def table(bundle: Path) -> str:
    """Every criterion on one line, for assertion messages."""
    return "\n".join(f"{cid}: {c['verdict']} measured={c['measured']} threshold={c['threshold']} "
                     f"{c['reason']}" for cid, c in criteria(bundle).items())
