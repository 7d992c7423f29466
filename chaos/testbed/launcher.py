"""Starting, stopping and inspecting the whole testbed as local processes."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from chaos.errors import TestbedError
from chaos.testbed.config import HOST, REGIONS, ROUTES, TestbedConfig
from chaos.testbed.proxies import create_proxies
from chaos.testbed.state import (
    ComponentState,
    ProxyState,
    TestbedState,
    load_state,
    pid_alive,
    port_open,
    save_state,
    spawn,
    state_lock,
    terminate,
    wait_ready,
)

# Start order; stop runs it backwards.
COMPONENTS: tuple[str, ...] = (
    "redis", "toxiproxy", *(f"provider-{r}" for r in ROUTES), *(f"gateway-{r}" for r in REGIONS),
    "router",
)
_ENV_KEEP = ("PATH", "HOME", "PYTHONPATH", "VIRTUAL_ENV", "LANG", "LC_ALL", "TMPDIR", "USER")


@dataclass(frozen=True)
class ComponentStatus:
    name: str
    pid: int
    alive: bool
    port: int
    health: str  # "ok", "HTTP 503", "port closed", "down", ...


def _port_busy(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((HOST, port))
        except OSError:
            return True
    return False


def check_ports(config: TestbedConfig) -> None:
    """Raise a one-line TestbedError for the first port that is taken or used twice."""
    seen: dict[int, str] = {}
    for label, port in config.all_ports().items():
        if port in seen:
            raise TestbedError(f"port {port} is configured twice ({seen[port]} and {label})")
        seen[port] = label
        if _port_busy(port):
            raise TestbedError(f"port {port} ({label}) is already in use on {HOST}")


def _components(config: TestbedConfig, state_dir: Path, config_json: Path) -> list[ComponentState]:
    logs = state_dir / "logs"
    env = {k: os.environ[k] for k in _ENV_KEEP if k in os.environ}
    env["PYTHONUNBUFFERED"] = "1"
    cwd = str(state_dir)

    def binary(name: str) -> str:
        path = shutil.which(name)
        if path is None:
            raise TestbedError(f"{name} is not on PATH (run `bash scripts/setup.sh`)")
        return path

    p = config.ports
    redis_dir = state_dir / "redis"
    redis_dir.mkdir(parents=True, exist_ok=True)
    out = [
        ComponentState("redis", 0, [binary("redis-server"), "--port", str(p.redis), "--bind", HOST,
                                    "--save", "", "--appendonly", "no", "--dir", str(redis_dir),
                                    "--protected-mode", "no", "--maxclients", "10000"],
                       env, cwd, str(logs / "redis.log"), p.redis, None),
        ComponentState("toxiproxy", 0, [binary("toxiproxy-server"), "-host", HOST, "-port",
                                        str(p.toxiproxy)],
                       {**env, "LOG_LEVEL": "warn"}, cwd, str(logs / "toxiproxy.log"), p.toxiproxy,
                       f"http://{HOST}:{p.toxiproxy}/version"),
    ]
    ports = {**{f"provider-{r}": p.providers[r] for r in ROUTES},
             **{f"gateway-{r}": p.gateways[r] for r in REGIONS}, "router": p.router}
    for name, port in ports.items():
        log = str(logs / f"{name}.log")
        out.append(ComponentState(name, 0, [sys.executable, "-m", "chaos.testbed.serve", name,
                                            str(config_json), log],
                                  env, cwd, log, port, f"http://{HOST}:{port}/health"))
    return out


def start_testbed(config: TestbedConfig, state_path: Path, *, timeout_s: float = 30.0) -> TestbedState:
    """Start every component, wait until each is healthy, and return the recorded state.

    The state file is rewritten after every spawn, so `stop_testbed` finds everything even if
    this process dies half-way; on any failure here, what was started is stopped again.
    """
    state_path = Path(state_path).expanduser()
    if state_path.exists():
        try:
            running = any(pid_alive(c.pid, c.argv) for c in load_state(state_path).components.values())
        except TestbedError:
            running = False  # an unreadable old state file is overwritten
        if running:
            raise TestbedError(f"a testbed is already running from {state_path} "
                               "(run `chaos testbed down` first)")
    check_ports(config)
    state_dir = state_path.parent
    (state_dir / "logs").mkdir(parents=True, exist_ok=True)
    config_json = state_dir / "config.json"
    config_json.write_text(config.model_dump_json(indent=2), "utf-8")
    api = f"http://{HOST}:{config.ports.toxiproxy}"
    proxies = {n: ProxyState(n, f"{HOST}:{config.proxies[n]}", up)
               for n, up in config.proxy_upstreams().items()}
    state = TestbedState({}, proxies, api, f"http://{HOST}:{config.ports.router}",
                         str(state_dir / "logs"), str(config_json), time.time())
    deadline = time.monotonic() + timeout_s
    try:
        with state_lock(state_path):
            for comp in _components(config, state_dir, config_json):
                started = ComponentState(**{**comp.__dict__, "pid": spawn(comp)})
                state = TestbedState({**state.components, comp.name: started}, *_rest(state))
                save_state(state_path, state)
                wait_ready(started, started.pid, max(0.5, deadline - time.monotonic()), need_ok=True)
                if comp.name == "toxiproxy":
                    create_proxies(api, list(proxies.values()))
            _wait_router_sees_regions(state, deadline)
    except BaseException:
        with contextlib.suppress(TestbedError):
            stop_testbed(state_path)
        raise
    return state


def _rest(state: TestbedState) -> tuple[dict[str, ProxyState], str, str, str, str, float]:
    return (state.proxies, state.toxiproxy_api, state.base_url, state.log_dir, state.config_path,
            state.started_at)


def _wait_router_sees_regions(state: TestbedState, deadline: float) -> None:
    """The router is ready when its first health round found both regions healthy."""
    url = f"{state.base_url}/admin/regions"
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError, ValueError):
            body = httpx.get(url, timeout=1.0).json()
            regions = body["regions"]
            if all(regions[r]["healthy"] and regions[r]["consecutive_successes"] >= 1 for r in REGIONS):
                return
        time.sleep(0.05)
    raise TestbedError("router did not see both regions healthy before the start-up deadline")


def stop_testbed(state_path: Path) -> list[str]:
    """Stop every recorded component (reverse start order); returns the names that were running."""
    state_path = Path(state_path).expanduser()
    if not state_path.exists():
        return []
    stopped = []
    with state_lock(state_path):
        state = load_state(state_path)
        for name in reversed([*COMPONENTS, *sorted(set(state.components) - set(COMPONENTS))]):
            comp = state.components.get(name)
            if comp is None or comp.pid <= 0:
                continue
            if pid_alive(comp.pid, comp.argv):
                stopped.append(name)
            terminate(comp.pid, comp.argv)
        state_path.unlink(missing_ok=True)
    return stopped


def testbed_status(state_path: Path) -> list[ComponentStatus]:
    """Each recorded component with its liveness and health."""
    state = load_state(Path(state_path).expanduser())
    out = []
    for name, comp in state.components.items():
        alive = pid_alive(comp.pid, comp.argv)
        if not alive:
            health = "down"
        elif comp.health_url is None:
            health = "ok" if port_open(comp.port) else "port closed"
        else:
            try:
                code = httpx.get(comp.health_url, timeout=1.0).status_code
                health = "ok" if code == 200 else f"HTTP {code}"
            except httpx.HTTPError as exc:
                health = type(exc).__name__
        out.append(ComponentStatus(name, comp.pid, alive, comp.port, health))
    return out
