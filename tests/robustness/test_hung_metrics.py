"""Every metrics endpoint of the environment accepts connections and never answers from the
middle of a drill on: the run still ends on time, each missed scrape is a recorded gap (never a
zero), and what needed those series cannot PASS."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
import yaml

from chaos.run import RunOptions, RunResult, run_drill_sync
from chaos.spec import load_drill, load_environment
from tests.e2e.helpers import EXPERIMENTS, MAX_DRIVER_LAG_MS
from tests.servers import wait_for
from tests.testbed_fixture import RunningTestbed

pytestmark = pytest.mark.slow

SMOKE = EXPERIMENTS / "smoke.yaml"  # 1 minute, no fault
TIME_SCALE = 0.5


@dataclass
class Switch:
    hang: threading.Event = field(default_factory=threading.Event)
    stop: threading.Event = field(default_factory=threading.Event)
    hung: int = 0  # requests accepted and never answered


class _Forward(BaseHTTPRequestHandler):
    """GET forwarded to the upstream metrics endpoint, until the switch says hang: then the
    request is read and never answered (the connection stays open)."""

    server: _ForwardServer

    def do_GET(self) -> None:
        switch = self.server.switch
        if switch.hang.is_set():
            switch.hung += 1
            switch.stop.wait()
            return
        upstream = httpx.get(self.server.upstream + self.path, timeout=2)
        self.send_response(upstream.status_code)
        self.send_header("content-type", upstream.headers.get("content-type", "text/plain"))
        self.send_header("content-length", str(len(upstream.content)))
        self.end_headers()
        self.wfile.write(upstream.content)

    def log_message(self, format: str, *args: object) -> None:
        pass


class _ForwardServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, upstream: str, switch: Switch) -> None:
        super().__init__(("127.0.0.1", 0), _Forward)
        self.upstream = upstream.rsplit("/metrics", 1)[0]
        self.switch = switch

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/metrics"


@contextmanager
def hangable_metrics(urls: list[str]) -> Iterator[tuple[list[str], Switch]]:
    switch = Switch()
    servers = [_ForwardServer(u, switch) for u in urls]
    threads = [threading.Thread(target=s.serve_forever, daemon=True) for s in servers]
    for t in threads:
        t.start()
    try:
        yield [s.url for s in servers], switch
    finally:
        switch.stop.set()
        for s in servers:
            s.shutdown()
            s.server_close()


def test_metrics_that_hang_mid_run_are_gaps_and_the_run_ends_on_time(
    testbed: RunningTestbed, tmp_path: Path,
) -> None:
    env_doc = yaml.safe_load(testbed.env_path.read_text())
    scrape = list(env_doc["metrics"]["scrape"])
    with hangable_metrics(scrape) as (urls, switch):
        env_doc["metrics"]["scrape"] = urls
        env_path = tmp_path / "environment.yaml"
        env_path.write_text(yaml.safe_dump(env_doc, sort_keys=False))
        drill, env = load_drill(SMOKE), load_environment(env_path)
        runs = tmp_path / "runs"
        options = RunOptions(time_scale=TIME_SCALE, load_scale=0.2, evidence_dir=runs, live=False,
                             max_driver_lag_ms=MAX_DRIVER_LAG_MS, steady_state_timeout_s=5.0,
                             drill_path=SMOKE, env_path=env_path)
        results: list[RunResult] = []
        runner = threading.Thread(target=lambda: results.append(run_drill_sync(drill, env, options)))
        began = time.monotonic()
        runner.start()
        wait_for(lambda: any(runs.glob("*/windows.jsonl")), 60, "the load running")
        time.sleep(3.0)  # a few good scrapes first (the drill's own schedule, not state)
        switch.hang.set()
        hung_at = time.time()
        runner.join(timeout=60 * TIME_SCALE + 90)
        elapsed = time.monotonic() - began
    assert not runner.is_alive(), "the run stalled on a hung metrics endpoint"
    (result,) = results
    assert elapsed < 60 * TIME_SCALE + 60, f"{elapsed:.0f}s"
    assert switch.hung > 0
    assert result.state == "complete", result.reason
    assert result.bundle is not None
    samples = [json.loads(line) for line in (result.bundle / "samples.jsonl").read_text().splitlines()]
    after = [s for s in samples if s["t"] > hung_at + 1 and s["source"] in urls]
    assert after, "no sample recorded after the hang"
    assert all(s["value"] is None for s in after), "a hung scrape must be a gap, never a value"
    gap_ticks = {round(s["t"]) for s in after}
    assert len(gap_ticks) >= 0.5 * (60 * TIME_SCALE - 10), "a gap for (nearly) every tick"
    evidence = json.loads((result.bundle / "evidence.json").read_text())
    circuits = [c for c in evidence["criteria"] if c["id"].startswith("limits.circuit_open")]
    assert circuits
    assert all(c["verdict"] != "PASS" for c in circuits), circuits
