"""The drill's own metrics, scraped by a real Prometheus (Debian's `prometheus`) and read back
through its PromQL API; running verdicts as a table."""

from __future__ import annotations

import json
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import anyio
import httpx
import pytest

from chaos.observe.exporter import (
    FAIL,
    INCONCLUSIVE,
    PASS,
    DrillExporter,
    DrillTelemetry,
    running_status,
)
from chaos.recording import FaultRecord, LoadWindow, Phase, ProbeSecond
from chaos.run.recorder import Recorder, RollingView
from chaos.slo.config import EvaluationConfig
from chaos.spec.loader import parse_environment
from tests.servers import free_port, free_ports, require_binary, wait_for

ROOT = Path(__file__).resolve().parents[2]
THRESHOLDS = EvaluationConfig(tier="L").thresholds()


@dataclass
class PrometheusServer:
    url: str
    process: subprocess.Popen[bytes]
    log: Path = field(repr=False)

    def query(self, promql: str) -> list[dict[str, object]]:
        doc = httpx.get(f"{self.url}/api/v1/query", params={"query": promql}, timeout=5).json()
        assert doc["status"] == "success", doc
        return list(doc["data"]["result"])

    def wait_value(self, promql: str, value: float, timeout_s: float = 30.0) -> None:
        def holds() -> bool:
            result = self.query(promql)
            return len(result) == 1 and float(result[0]["value"][1]) == value  # type: ignore[index]

        try:
            wait_for(holds, timeout_s, f"{promql} == {value}")
        except TimeoutError:
            raise AssertionError(f"{promql}: {self.query(promql)}; prometheus log: "
                                 f"{self.log.read_text()[-2000:]}") from None


@pytest.fixture
def prometheus(tmp_path: Path) -> Iterator[tuple[PrometheusServer, int]]:
    """A real Prometheus scraping 127.0.0.1:<port> every second; yields it and the port."""
    binary = require_binary("prometheus")
    exporter_port, web_port = free_ports(2)
    config = tmp_path / "prometheus.yml"
    config.write_text(f"""\
global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: chaos-drill
    scrape_interval: 1s
    scrape_timeout: 900ms
    static_configs:
      - targets: ["127.0.0.1:{exporter_port}"]
""")
    log = tmp_path / "prometheus.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [binary, f"--config.file={config}", f"--storage.tsdb.path={tmp_path / 'data'}",
             f"--web.listen-address=127.0.0.1:{web_port}", "--storage.tsdb.retention.time=1h"],
            stdout=out, stderr=subprocess.STDOUT)
    server = PrometheusServer(f"http://127.0.0.1:{web_port}", process, log)
    try:
        wait_for(lambda: httpx.get(f"{server.url}/-/ready", timeout=1).status_code == 200, 30,
                 "prometheus")
        yield server, exporter_port
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


def _window(t: float, counts: dict[str, int], in_flight: int = 3) -> LoadWindow:
    return LoadWindow(run_id="r1", worker_id="w0", incarnation=0, seq=int(t), start=t - 1, end=t,
                      started=sum(counts.values()), counts=counts, error_codes={}, transport={},
                      regions={}, first_token_hist="", completion_hist="", in_flight=in_flight)


def _environment(listen: str) -> object:
    text = (ROOT / "environments" / "local.yaml").read_text("utf-8")
    return parse_environment(text + f"dashboards:\n  metrics_listen: \"{listen}\"\n", path="env.yaml")


def test_a_real_prometheus_scrapes_the_drills_series(prometheus: tuple[PrometheusServer, int],
                                                     tmp_path: Path) -> None:
    """Phase, fault, load and running verdicts, as Prometheus stored them from a run."""
    server, port = prometheus
    now = time.time()
    # The baseline lasts a few scrapes; the fault phase then follows by the clock.
    phases = (Phase("baseline", "baseline", now - 5, now + 6, tier="L"),
              Phase("fault:f1", "fault", now + 6, now + 600, tier="L", fault_id="f1"))
    recorder = Recorder("r1", now - 5)
    telemetry = DrillTelemetry(_environment(f"127.0.0.1:{port}"), recorder,  # type: ignore[arg-type]
                               EvaluationConfig(tier="L"), drill="provider-outage", run_id="r1")
    labels = 'drill="provider-outage",run_id="r1"'

    async def run() -> None:
        async with anyio.create_task_group() as tg:
            telemetry.start(tg, phases)
            recorder.add_window(_window(now, {"2xx": 40, "5xx": 2}))
            await anyio.to_thread.run_sync(
                server.wait_value, f'chaos_drill_phase{{{labels},phase="baseline"}}', 1.0)
            await anyio.to_thread.run_sync(
                server.wait_value, f'chaos_load_requests_total{{{labels},class="2xx"}}', 40.0)
            await anyio.to_thread.run_sync(server.wait_value, f"chaos_load_streams{{{labels}}}", 3.0)
            # 2 of 42 failed: over Tier L's 5xx budget, so the running verdict is a fail.
            await anyio.to_thread.run_sync(
                server.wait_value, f'chaos_criterion_status{{{labels},id="rate_5xx"}}', float(FAIL))
            recorder.add_fault(FaultRecord("f1", "provider_outage", "http_errors", "primary",
                                           now + 2, now + 600, applied_at=time.time()))
            await anyio.to_thread.run_sync(server.wait_value, (
                f'chaos_fault_active{{{labels},fault_id="f1",scenario="provider_outage",'
                f'mode="http_errors",target="primary"}}'), 1.0)
            await anyio.to_thread.run_sync(
                server.wait_value, f'chaos_drill_phase{{{labels},phase="fault:f1"}}', 1.0)
            tg.cancel_scope.cancel()
        await telemetry.finish("interrupted", "INCONCLUSIVE", started_at=now - 5, ended_at=time.time())

    anyio.run(run)
    assert telemetry.exporter is not None
    assert telemetry.exporter.statistics().phase == "ended"
    with pytest.raises(httpx.ConnectError):  # finish stopped the server
        httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=1)


def test_a_busy_port_is_a_preflight_error() -> None:
    from chaos.errors import PreflightError

    port = free_port()
    first = DrillExporter("d", "r", ["baseline"])
    first.serve("127.0.0.1", port)
    try:
        with pytest.raises(PreflightError, match=r"cannot listen on 127\.0\.0\.1"):
            DrillExporter("d", "r", ["baseline"]).serve("127.0.0.1", port)
    finally:
        first.close()


def _view(rates: dict[str, float | None], ft: float | None = 500.0, done: float | None = 2000.0) -> RollingView:
    return RollingView(5.0, 10.0, 10.0, 2, rates, ft, done, False, 0.0, 0.0, {})


def _probes(*available: bool) -> list[ProbeSecond]:
    return [ProbeSecond(float(i), a, a) for i, a in enumerate(available)]


@pytest.mark.parametrize(("view", "probes", "expected"), [
    (_view({"2xx": 1.0, "5xx": 0.0, "429": 0.0}), _probes(True, True),
     dict.fromkeys(("availability", "rate_2xx", "rate_5xx", "rate_429", "p95_first_token", "p95_completion"), PASS)),
    (_view({"2xx": 0.9, "5xx": 0.05, "broken": 0.05, "429": 0.0}), _probes(True, False),
     {"availability": FAIL, "rate_2xx": FAIL, "rate_5xx": FAIL, "rate_429": PASS,
      "p95_first_token": PASS, "p95_completion": PASS}),
    (_view({"2xx": None, "5xx": None, "429": None}, None, None), [],
     dict.fromkeys(("availability", "rate_2xx", "rate_5xx", "rate_429", "p95_first_token", "p95_completion"), INCONCLUSIVE)),
    (_view({"2xx": 1.0, "5xx": 0.0, "429": 0.0}, 10**6, 10**7), _probes(True),
     {"availability": PASS, "rate_2xx": PASS, "rate_5xx": PASS, "rate_429": PASS,
      "p95_first_token": FAIL, "p95_completion": FAIL}),
])
def test_running_verdicts(view: RollingView, probes: list[ProbeSecond], expected: dict[str, int]) -> None:
    assert running_status(view, THRESHOLDS, probes) == expected


def test_a_phase_without_thresholds_is_inconclusive() -> None:
    assert set(running_status(_view({"2xx": 1.0}), None, []).values()) == {INCONCLUSIVE}


@pytest.mark.slow
def test_a_drill_run_serves_its_metrics_and_annotates_grafana(
        prometheus: tuple[PrometheusServer, int], tmp_path: Path,
        tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """run_drill with `dashboards` on the real testbed: Prometheus stored the run's load and
    phases; the Grafana API got the phases and the verdict."""
    import yaml

    from chaos.run import RunOptions, run_drill_sync
    from chaos.spec import load_drill, load_environment
    from tests.observe.test_grafana import TOKEN, GrafanaApi
    from tests.testbed_fixture import running_testbed

    server, port = prometheus
    grafana = GrafanaApi(TOKEN)
    thread = threading.Thread(target=grafana.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("CHAOS_TEST_GRAFANA_TOKEN", TOKEN)
    try:
        with running_testbed(tmp_path_factory) as tb:
            doc = yaml.safe_load(tb.env_path.read_text("utf-8"))
            doc["dashboards"] = {"metrics_listen": f"127.0.0.1:{port}", "grafana": {
                "url": grafana.url, "token": "${CHAOS_TEST_GRAFANA_TOKEN}", "tags": ["test"]}}
            env_path = tmp_path / "environment.yaml"
            env_path.write_text(yaml.safe_dump(doc, sort_keys=False), "utf-8")
            drill = load_drill(ROOT / "experiments" / "smoke.yaml")
            result = run_drill_sync(drill, load_environment(env_path), RunOptions(
                time_scale=0.2, load_scale=0.2, evidence_dir=tmp_path / "evidence", live=False))
        assert result.bundle is not None
        run_id = json.loads((result.bundle / "run.json").read_text("utf-8"))["run_id"]
        selector = f'drill="smoke",run_id="{run_id}"'
        stored = server.query(f'max_over_time(chaos_load_requests_total{{{selector},class="2xx"}}[10m])')
        assert stored, server.log.read_text()[-2000:]
        assert float(stored[0]["value"][1]) > 0  # type: ignore[index]
        phases = server.query(f"max by (phase) (max_over_time(chaos_drill_phase{{{selector}}}[10m]))")
        assert {"baseline"} <= {p["metric"]["phase"] for p in phases}  # type: ignore[index]
        texts = [a["text"] for a in grafana.annotations.values()]
        assert "smoke: phase baseline" in texts
        assert texts[-1].startswith(f"smoke: {result.verdict.value if result.verdict else 'ERROR'} (")
    finally:
        grafana.shutdown()
        grafana.server_close()
