"""PromQL abort conditions against a REAL Prometheus (Debian's `prometheus`) scraping a small
exporter run by the test: the watch fires only once the team's signal holds, naming the query;
on the testbed, a drill whose signal fires mid-fault ends aborted with the fault reverted."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import anyio
import httpx
import pytest
import yaml

from chaos.errors import ExitCode
from chaos.report.reader import read_raw
from chaos.run.promql_abort import PromqlCondition, PromqlWatch
from tests.e2e.helpers import EXPERIMENTS, MAX_DRIVER_LAG_MS, proxies_clean
from tests.e2e.test_interruption import bundle_of, primary_cut
from tests.servers import free_port, require_binary, wait_for
from tests.testbed_fixture import RunningTestbed


class _Exporter(BaseHTTPRequestHandler):
    value = 0.0  # team_alert_firing{alertname="GatewayErrors"}

    def do_GET(self) -> None:
        body = (f'# TYPE team_alert_firing gauge\n'
                f'team_alert_firing{{alertname="GatewayErrors"}} {type(self).value}\n').encode()
        self.send_response(200)
        self.send_header("content-type", "text/plain; version=0.0.4")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        del args


@pytest.fixture
def prometheus(tmp_path: Path) -> Iterator[str]:
    """A real Prometheus scraping the test's exporter every second; yields its API URL."""
    binary = require_binary("prometheus")
    _Exporter.value = 0.0
    exporter = ThreadingHTTPServer(("127.0.0.1", 0), _Exporter)
    threading.Thread(target=exporter.serve_forever, daemon=True).start()
    web_port = free_port()
    config = tmp_path / "prometheus.yml"
    config.write_text(f"""\
global:
  scrape_interval: 1s
scrape_configs:
  - job_name: team
    scrape_interval: 1s
    scrape_timeout: 900ms
    static_configs:
      - targets: ["127.0.0.1:{exporter.server_address[1]}"]
""")
    with (tmp_path / "prometheus.log").open("wb") as out:
        process = subprocess.Popen(
            [binary, f"--config.file={config}", f"--storage.tsdb.path={tmp_path / 'data'}",
             f"--web.listen-address=127.0.0.1:{web_port}"], stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{web_port}"
    try:
        def scraped() -> bool:
            doc = httpx.get(f"{url}/api/v1/query", params={"query": "team_alert_firing"}, timeout=2).json()
            return bool(doc.get("data", {}).get("result"))

        wait_for(lambda: httpx.get(f"{url}/-/ready", timeout=1).status_code == 200, 30, "prometheus")
        wait_for(scraped, 30, "the exporter scraped")
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)
        exporter.shutdown()
        exporter.server_close()


QUERY = 'team_alert_firing{alertname="GatewayErrors"}'


def test_the_watch_fires_only_once_the_query_held_for_its_duration(prometheus: str) -> None:
    any_result = PromqlCondition("team-alert", QUERY, for_s=2.0)
    above = PromqlCondition("team-alert-above", QUERY, above=5.0, for_s=0.0)
    watch = PromqlWatch((any_result, above), prometheus, poll_s=0.5)

    async def main() -> tuple[bool, float]:
        async with anyio.create_task_group() as tg:
            tg.start_soon(watch.run)
            with anyio.move_on_after(4.0):  # signal at 0: nothing fires
                await watch.fired.wait()
            quiet = watch.fired.is_set()
            _Exporter.value = 1.0  # > 0 but not > 5: only the any-result condition
            start = anyio.current_time()
            with anyio.fail_after(30):
                await watch.fired.wait()
            tg.cancel_scope.cancel()
        return quiet, anyio.current_time() - start

    quiet, took_s = anyio.run(main)
    assert not quiet
    assert took_s >= 2.0  # held for its `for`, not on the first violating answer
    assert watch.reason.startswith(f"abort condition team-alert: promql {QUERY} (any result > 0) held"), watch.reason
    assert watch.errors == 0


def test_a_query_prometheus_rejects_is_a_gap_not_an_abort(prometheus: str) -> None:
    watch = PromqlWatch((PromqlCondition("broken", "sum(", for_s=0.0),), prometheus, poll_s=0.2)

    async def main() -> None:
        with anyio.move_on_after(2.0):
            await watch.run()

    anyio.run(main)
    assert not watch.fired.is_set()
    assert watch.errors > 0


@pytest.mark.slow
def test_a_drill_aborts_on_the_teams_promql_signal_and_reverts(
        testbed: RunningTestbed, prometheus: str, tmp_path: Path) -> None:
    drill = yaml.safe_load((EXPERIMENTS / "provider-outage-down.yaml").read_text("utf-8"))
    drill["abort"] = [{"name": "team-alert", "promql": QUERY, "for": "10s"}]  # 1 s at --time-scale 0.1
    drill_path = tmp_path / "drill.yaml"
    drill_path.write_text(yaml.safe_dump(drill, sort_keys=False), "utf-8")
    env = yaml.safe_load(testbed.env_path.read_text("utf-8"))
    env["metrics"]["prometheus"] = prometheus
    env_path = tmp_path / "env.yaml"
    env_path.write_text(yaml.safe_dump(env, sort_keys=False), "utf-8")
    argv = [sys.executable, "-m", "chaos", "run", str(drill_path), "--env", str(env_path),
            "--time-scale", "0.1", "--load-scale", "0.1", "--evidence-dir", str(tmp_path / "runs"),
            "--max-driver-lag-ms", str(MAX_DRIVER_LAG_MS), "--no-live"]
    with (tmp_path / "chaos-run.out").open("wb") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=os.environ | {"NO_COLOR": "1"})
    try:
        wait_for(lambda: primary_cut(testbed), 90, "the fault applied")
        _Exporter.value = 1.0  # the team's alert fires mid-fault
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    output = (tmp_path / "chaos-run.out").read_text()
    assert proc.returncode == ExitCode.FAIL, output
    assert proxies_clean(testbed)
    bundle = bundle_of(tmp_path / "runs")
    assert read_raw(bundle).state == "aborted"
    run = json.loads((bundle / "run.json").read_text())
    assert f"abort condition team-alert: promql {QUERY}" in run["aborted"], run
