"""Preflight against the real Toxiproxy: found and missing proxies, dead targets, missing state."""

from __future__ import annotations

import json
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import anyio
import pytest

from chaos.run.preflight import run_preflight, topology_proxies
from chaos.spec import load_environment, parse_drill
from tests.run.preflight_env import DRILL, create_proxies, write_env
from tests.servers import ToxiproxyServer, free_port, http_server


class _Health(BaseHTTPRequestHandler):
    """Health at /health, and /api/chat answering one complete stream of the testbed dialect
    (the environment's default protocol), so the canary check passes."""

    def _ok(self, path: str) -> bool:
        return self.path == path

    def do_GET(self) -> None:
        self.send_response(200 if self._ok("/health") else 404)
        self.end_headers()

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length", "0")))
        if not self._ok("/api/chat"):
            self.send_response(404)
            self.end_headers()
            return
        body = b'data: {"token": "hi"}\n\ndata: [DONE]\n\n'
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # quiet test output
        del format, args


@pytest.fixture
def health_server() -> Iterator[str]:
    with http_server(_Health) as url:
        yield url


@pytest.fixture
def live_pid() -> Iterator[int]:
    """A real process that leads its own session, as testbed components do."""
    import subprocess
    import sys

    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"],
                             start_new_session=True)
    yield child.pid
    child.kill()
    child.wait(timeout=10)


def _state_file(tmp_path: Path, pids: dict[str, int]) -> Path:
    """A testbed state file whose components have the given pids (argv of this python)."""
    import sys

    components = {
        name: {"name": name, "pid": pid, "argv": [sys.executable], "env": {}, "cwd": "/",
               "log_path": "", "port": 0, "health_url": None}
        for name, pid in pids.items()
    }
    path = tmp_path / "state.json"
    path.write_text(json.dumps({"components": components}), encoding="utf-8")
    return path


def test_preflight_reports_found_and_missing_proxies(
    toxiproxy: ToxiproxyServer, health_server: str, tmp_path: Path, live_pid: int
) -> None:
    """Proxies that exist are listed as found, the others as missing, and the check fails."""
    create_proxies(toxiproxy.api_url, ["us-east-primary", "router-us-east", "unrelated"])
    state = _state_file(tmp_path, {"redis": live_pid, "provider-primary": live_pid,
                                   "gateway-us-east": live_pid})
    env = load_environment(write_env(tmp_path, toxiproxy.api_url, base_url=health_server, state_file=state))
    report = anyio.run(run_preflight, parse_drill(DRILL), env)

    tox = report.check("toxiproxy")
    assert tox is not None
    assert tox.ok
    assert "version" in tox.detail
    proxies = report.check("proxies")
    assert proxies is not None
    assert not proxies.ok
    assert proxies.found == ("us-east-primary", "router-us-east")
    assert proxies.missing == ("us-west-primary", "us-east-redis", "router-us-west")
    processes = report.check("processes")
    assert processes is not None
    assert processes.ok, processes
    target = report.check("target")
    assert target is not None
    assert target.ok, target
    assert [c.name for c in report.failures] == ["proxies"]


def test_preflight_passes_when_everything_is_there(
    toxiproxy: ToxiproxyServer, health_server: str, tmp_path: Path, live_pid: int
) -> None:
    state = _state_file(tmp_path, {"redis": live_pid, "provider-primary": live_pid,
                                   "gateway-us-east": live_pid})
    env = load_environment(write_env(tmp_path, toxiproxy.api_url, base_url=health_server, state_file=state))
    create_proxies(toxiproxy.api_url, list(topology_proxies(env)))
    report = anyio.run(run_preflight, parse_drill(DRILL), env)
    assert report.ok, [str(c) for c in report.checks]


def test_preflight_fails_each_unreachable_component_with_one_line(tmp_path: Path) -> None:
    """A dead Toxiproxy, a dead target and a missing state file each give a failing line."""
    dead = f"http://127.0.0.1:{free_port()}"
    env = load_environment(write_env(tmp_path, dead, base_url=dead, state_file=tmp_path / "none.json"))
    report = anyio.run(run_preflight, parse_drill(DRILL), env)
    assert {c.name for c in report.failures} == {"toxiproxy", "proxies", "processes", "target",
                                                 "canary"}
    for check in report.failures:
        assert "\n" not in str(check)
    proxies = report.check("proxies")
    assert proxies is not None
    assert len(proxies.missing) == 5


def test_preflight_reports_dead_processes(
    toxiproxy: ToxiproxyServer, health_server: str, tmp_path: Path, live_pid: int
) -> None:
    """A state file naming a pid that does not run reports that component as not running."""
    import subprocess
    import sys

    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    state = _state_file(tmp_path, {"redis": child.pid, "provider-primary": live_pid,
                                   "gateway-us-east": live_pid})
    env = load_environment(write_env(tmp_path, toxiproxy.api_url, base_url=health_server, state_file=state))
    report = anyio.run(run_preflight, parse_drill(DRILL), env)
    processes = report.check("processes")
    assert processes is not None
    assert not processes.ok
    assert processes.missing == ("redis",)


SWITCH_DRILL = DRILL.split("faults:")[0] + """faults:
  - id: provider-503
    scenario: provider_outage
    target: primary
    mode: http_errors
    status: 503
    at: 1m
    for: 1m
"""


def test_a_fault_switch_the_drill_sets_must_answer_and_be_off(
        toxiproxy: ToxiproxyServer, health_server: str, tmp_path: Path, live_pid: int) -> None:
    """The drill's fault switch (a real `chaos faultproxy`) is checked: off passes, a fault
    left on names it and what to do, a URL that is no switch says so; one line each, and the
    switch's URL is not shown (it may carry a credential)."""
    import httpx

    from chaos.faultproxy import ProxyConfig, running_proxy

    state = _state_file(tmp_path, {"redis": live_pid, "provider-primary": live_pid,
                                   "gateway-us-east": live_pid})
    config = ProxyConfig(upstream=f"http://127.0.0.1:{free_port()}", listen_port=free_port())
    with running_proxy(config) as proxy:
        path = write_env(tmp_path, toxiproxy.api_url, base_url=health_server, state_file=state)
        text = path.read_text("utf-8").replace(
            "      services: [provider-primary]\n",
            f"      services: [provider-primary]\n      http_fault: {proxy.fault_url}?sig=Zq-9x\n")
        path.write_text(text, "utf-8")
        env = load_environment(path)
        create_proxies(toxiproxy.api_url, list(topology_proxies(env)))

        def switches() -> str:
            report = anyio.run(run_preflight, parse_drill(SWITCH_DRILL), env)
            check = report.check("fault switches")
            assert check is not None
            assert "Zq-9x" not in str(check)
            assert "\n" not in str(check)
            return str(check)

        assert switches() == "ok fault switches: 1 off and answering: primary"
        httpx.post(proxy.fault_url, json={"status": 429, "rate": 0.5}).raise_for_status()
        assert switches() == (
            'FAIL fault switches: primary: already on ({"rate":0.5,"retry_after_s":null,'
            '"status":429}), left by an earlier run? `chaos cleanup`, or DELETE the switch, '
            "then run again")
        httpx.delete(proxy.fault_url).raise_for_status()
    path.write_text(text.replace(f"{proxy.fault_url}?sig=Zq-9x", f"{health_server}/health"), "utf-8")
    env = load_environment(path)
    report = anyio.run(run_preflight, parse_drill(SWITCH_DRILL), env)
    check = report.check("fault switches")
    assert check is not None
    assert not check.ok
    assert "is it a chaos fault switch" in check.detail, check


class _AzureLike(_Health):
    """Answers only requests that carry `api-version` (as Azure OpenAI does), under a
    deployment path prefix: 404 otherwise."""

    def _ok(self, path: str) -> bool:
        return self.path == f"/openai/deployments/d{path}?api-version=2024-10-21"


def test_a_base_url_with_a_path_prefix_and_a_query_reaches_the_target(
        toxiproxy: ToxiproxyServer, tmp_path: Path, live_pid: int) -> None:
    """`target.base_url: https://.../openai/deployments/d?api-version=...`: the health check
    and the canary go to `<prefix><path>?api-version=...`, not `...?api-version=.../health`."""
    with http_server(_AzureLike) as url:
        base = f"{url}/openai/deployments/d?api-version=2024-10-21"
        state = _state_file(tmp_path, {"redis": live_pid, "provider-primary": live_pid,
                                       "gateway-us-east": live_pid})
        path = write_env(tmp_path, toxiproxy.api_url, base_url=base, state_file=state)
        path.write_text(path.read_text("utf-8").replace(
            f"scrape: [{base}/metrics]", f'scrape: ["{base}&metrics"]'), "utf-8")
        env = load_environment(path)
        create_proxies(toxiproxy.api_url, list(topology_proxies(env)))
        report = anyio.run(run_preflight, parse_drill(DRILL), env)
    for name in ("target", "canary"):
        check = report.check(name)
        assert check is not None
        assert check.ok, check
