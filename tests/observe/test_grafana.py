"""Annotations pushed to a server speaking Grafana's HTTP annotations API (POST, PATCH and
GET /api/annotations with a Bearer token), and the token kept out of every error."""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import anyio
import pytest

from chaos.observe.exporter import DrillTelemetry
from chaos.observe.grafana import GrafanaAnnotator, GrafanaError
from chaos.recording import FaultAction, FaultRecord, Phase
from chaos.report.bundle import BundleWriter
from chaos.run.recorder import Recorder
from chaos.slo.config import EvaluationConfig
from chaos.spec.loader import parse_environment
from tests.servers import free_port

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "glsa_s3cr3t-token-value"


class GrafanaApi(ThreadingHTTPServer):
    """The annotations endpoints as Grafana documents them: 401 without the right Bearer
    token; POST answers {"message": "Annotation added", "id": N}; PATCH updates text, tags,
    time and timeEnd. `echo_auth` makes errors quote the Authorization header (a verbose
    proxy in front of Grafana does that)."""

    daemon_threads = True

    def __init__(self, token: str) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.token = token
        self.annotations: dict[int, dict[str, Any]] = {}
        self.echo_auth = False
        self.fail_status: int | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Handler(BaseHTTPRequestHandler):
    server: GrafanaApi

    def log_message(self, format: str, *args: object) -> None:
        del format, args

    def _reply(self, status: int, doc: object) -> None:
        body = json.dumps(doc).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _authorised(self) -> bool:
        auth = self.headers.get("authorization", "")
        if self.server.fail_status is not None:
            message = f"upstream failed for {auth}" if self.server.echo_auth else "internal error"
            self._reply(self.server.fail_status, {"message": message})
            return False
        if auth != f"Bearer {self.server.token}":
            message = f"invalid API key: {auth}" if self.server.echo_auth else "Unauthorized"
            self._reply(401, {"message": message})
            return False
        return True

    def _body(self) -> dict[str, Any]:
        return dict(json.loads(self.rfile.read(int(self.headers.get("content-length") or 0))))

    def do_POST(self) -> None:
        if not self._authorised():
            return
        if self.path != "/api/annotations":
            self._reply(404, {"message": "Not found"})
            return
        doc = self._body()
        if not isinstance(doc.get("time"), int) or not isinstance(doc.get("text"), str):
            self._reply(400, {"message": "bad request data"})
            return
        ident = len(self.server.annotations) + 1
        self.server.annotations[ident] = doc
        self._reply(200, {"message": "Annotation added", "id": ident})

    def do_PATCH(self) -> None:
        if not self._authorised():
            return
        ident = int(self.path.rsplit("/", 1)[1])
        if ident not in self.server.annotations:
            self._reply(404, {"message": "Annotation not found"})
            return
        changes = {k: v for k, v in self._body().items() if k in ("text", "tags", "time", "timeEnd")}
        self.server.annotations[ident].update(changes)
        self._reply(200, {"message": "Annotation patched"})

    def do_GET(self) -> None:
        if not self._authorised():
            return
        found = [{"id": i, **a} for i, a in self.server.annotations.items()]
        self._reply(200, found)


@pytest.fixture
def grafana() -> Iterator[GrafanaApi]:
    server = GrafanaApi(TOKEN)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_points_and_regions_are_posted_and_patched(grafana: GrafanaApi) -> None:
    annotator = GrafanaAnnotator(grafana.url, TOKEN, dashboard_uid="chaos-drill", tags=("chaos",))

    async def push() -> None:
        point = await annotator.annotate("phase baseline", 1700000000.1234, tags=("phase",))
        region = await annotator.annotate("fault f1 applied", 1700000010.0, tags=("fault",))
        await annotator.extend(region, "fault f1 reverted", 1700000010.0, 1700000040.5, ("fault",))
        assert (point, region) == (1, 2)
        await annotator.aclose()

    anyio.run(push)
    assert grafana.annotations[1] == {"time": 1700000000123, "text": "phase baseline",
                                      "tags": ["chaos", "phase"], "dashboardUID": "chaos-drill"}
    assert grafana.annotations[2]["time"] == 1700000010000
    assert grafana.annotations[2]["timeEnd"] == 1700000040500
    assert grafana.annotations[2]["text"] == "fault f1 reverted"
    assert annotator.statistics().posted == 2
    assert annotator.statistics().patched == 1


@pytest.mark.parametrize("case", ["wrong token", "echoed 401", "echoed 500", "refused"])
def test_the_token_never_appears_in_an_error(grafana: GrafanaApi, case: str) -> None:
    url = grafana.url if case != "refused" else f"http://127.0.0.1:{free_port()}"
    grafana.echo_auth = case.startswith("echoed")
    grafana.fail_status = 500 if case == "echoed 500" else None
    token = "wrong-token-value" if case in ("wrong token", "echoed 401") else TOKEN
    annotator = GrafanaAnnotator(url, token)

    async def push() -> GrafanaError:
        with pytest.raises(GrafanaError) as caught:
            await annotator.annotate("x", time.time())
        await annotator.aclose()
        return caught.value

    error = anyio.run(push)
    text = f"{error} {error!r} {error.detail}"
    assert token not in text
    assert f"grafana POST {url}/api/annotations:" in str(error)
    if case == "refused":
        assert "ConnectError" in str(error)
    else:
        assert "HTTP" in str(error)


def _environment(grafana_url: str, uid: str = "chaos-drill") -> object:
    text = (ROOT / "environments" / "local.yaml").read_text("utf-8")
    block = (f"dashboards:\n  grafana:\n    url: {grafana_url}\n    token: \"${{CHAOS_TEST_GRAFANA_TOKEN}}\"\n"
             f"    dashboard_uid: {uid}\n    tags: [game-day]\n")
    return parse_environment(text + block, path="env.yaml")


def test_a_drill_annotates_phases_faults_and_its_verdict(grafana: GrafanaApi, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHAOS_TEST_GRAFANA_TOKEN", TOKEN)
    now = time.time()
    phases = (Phase("baseline", "baseline", now - 10, now - 4, tier="L"),
              Phase("fault:f1", "fault", now - 4, now + 600, tier="L", fault_id="f1"))
    recorder = Recorder("r1", now - 10)
    telemetry = DrillTelemetry(_environment(grafana.url), recorder, EvaluationConfig(tier="L"),  # type: ignore[arg-type]
                               drill="provider-outage", run_id="r1")
    applied = FaultRecord("f1", "provider_outage", "stream_error", "primary", now - 4, now + 600,
                          applied_at=now - 3.9)

    async def run() -> None:
        async with anyio.create_task_group() as tg:
            telemetry.start(tg, phases)
            await telemetry.sync(now)
            recorder.add_fault(applied)
            await telemetry.sync(now)
            tg.cancel_scope.cancel()
        reverted = FaultRecord(**{**vars_of(applied), "reverted_at": now - 1.0, "actions": (
            FaultAction("http", "http://p/__chaos/fault", revert_method="targeted"),)})
        recorder.add_fault(reverted)
        await telemetry.finish("complete", "PASS", started_at=now - 10, ended_at=now)

    anyio.run(run)
    texts = [a["text"] for a in grafana.annotations.values()]
    assert texts == ["provider-outage: phase fault:f1",
                     "provider-outage: fault f1 (provider_outage/stream_error on primary), reverted (targeted)",
                     "provider-outage: PASS (complete), run r1"]
    fault = grafana.annotations[2]
    assert (fault["time"], fault["timeEnd"]) == (round((now - 3.9) * 1000), round((now - 1.0) * 1000))
    assert fault["tags"] == ["chaos", "provider-outage", "game-day", "fault", "f1", "provider_outage", "stream_error"]
    assert all(a["dashboardUID"] == "chaos-drill" for a in grafana.annotations.values())
    verdict = grafana.annotations[3]
    assert (verdict["time"], verdict["timeEnd"]) == (round((now - 10) * 1000), round(now * 1000))


def vars_of(record: FaultRecord) -> dict[str, Any]:
    return {f: getattr(record, f) for f in record.__dataclass_fields__}


def test_a_failing_grafana_goes_to_the_evidence_not_the_drill(grafana: GrafanaApi, tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """Annotations that fail are events in the bundle (without the token); the drill goes on."""
    monkeypatch.setenv("CHAOS_TEST_GRAFANA_TOKEN", "not-the-token-" + TOKEN[::-1])
    grafana.echo_auth = True
    now = time.time()
    bundle = BundleWriter.create(tmp_path, "provider-outage", now, run_meta={"run_id": "r1"})
    recorder = Recorder("r1", now, bundle)
    telemetry = DrillTelemetry(_environment(grafana.url), recorder, EvaluationConfig(tier="L"),  # type: ignore[arg-type]
                               drill="provider-outage", run_id="r1")

    async def run() -> None:
        async with anyio.create_task_group() as tg:
            telemetry.start(tg, (Phase("baseline", "baseline", now - 1, now + 60, tier="L"),))
            await telemetry.sync(now)
            tg.cancel_scope.cancel()

    anyio.run(run)
    bundle.close()
    events = [json.loads(line) for line in (bundle.path / "events.jsonl").read_text().splitlines()]
    assert [e["kind"] for e in events] == ["dashboards.annotation_failed"]
    assert "HTTP 401" in events[0]["message"]
    assert os.environ["CHAOS_TEST_GRAFANA_TOKEN"] not in events[0]["message"]
    assert grafana.annotations == {}


def test_the_example_dashboard_plots_the_exporters_series_and_overlays_the_annotations() -> None:
    import re

    from chaos.observe.exporter import DrillExporter

    doc = json.loads((ROOT / "examples" / "grafana" / "drill-dashboard.json").read_text("utf-8"))
    exported = {family.name + ("_total" if family.type == "counter" else "")
                for family in DrillExporter("d", "r", ["baseline"]).registry.collect()}
    used = {name for panel in doc["panels"] for target in panel["targets"]
            for name in re.findall(r"\bchaos_[a-z_]+", target["expr"])}
    assert used == exported
    [overlay] = [a for a in doc["annotations"]["list"] if not a.get("builtIn")]
    assert overlay["target"]["tags"] == ["chaos"]
    assert doc["uid"] == "chaos-drill"
