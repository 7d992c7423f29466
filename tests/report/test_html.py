"""report.html: small, offline, one panel per chart with its own legend and time axis, every
outcome class, threshold lines; and, in a real headless Chromium, every panel draws with no
console error (a screenshot is kept with the test artefacts)."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from chaos.recording import CLASS_LABELS, STATUS_CLASSES
from chaos.report import Evidence, write_final_files
from chaos.report.charts import build_panels
from chaos.run.judge import judge
from chaos.slo import EvaluationConfig
from tests.report.cdp import chromium_page, load
from tests.report.synthetic import long_recording, recording

MAX_PAGE_BYTES = 1_500_000


def _judged(rec: Any, tier: str = "L") -> Evidence:
    config = EvaluationConfig(tier=tier)
    inputs = {"evaluation": dataclasses.asdict(config) | {"overrides": {}},
              "drill": {"name": "d", "duration": "5m", "load": {"model": "closed", "streams": 100}}}
    return judge(rec, config, drill="provider-outage", state="complete", inputs=inputs)[1]


def _panels_json(page: str) -> list[dict[str, Any]]:
    match = re.search(r'<script type="application/json" id="panel-data">(.*?)</script>', page, re.S)
    assert match is not None
    panels: list[dict[str, Any]] = json.loads(match.group(1).replace("<\\/", "</"))
    return panels


def test_each_panel_has_its_own_legend_and_time_axis_over_the_run() -> None:
    evidence = _judged(recording(broken=2))
    panels = build_panels(evidence)
    keys = [p.key for p in panels]
    assert keys == ["timeline", "throughput", "outcomes", "complete", "failures", "availability",
                    "p95_first_token", "p95_completion", "circuit", "queue", "regions", "driver"]
    rec = evidence.recording
    for p in panels:
        axis = p.layout["xaxis"]
        assert axis["type"] == "date"
        assert axis["range"] == [round(rec.started_at * 1000), round(rec.ended_at * 1000)]
        assert p.layout["legend"]["orientation"] == "h"
        assert p.data, p.key


def test_every_outcome_class_is_drawn_with_its_own_colour() -> None:
    evidence = _judged(recording(broken=2))
    outcomes = next(p for p in build_panels(evidence) if p.key == "outcomes")
    names = [t["name"] for t in outcomes.data]
    assert names == [CLASS_LABELS.get(c, c) for c in STATUS_CLASSES]
    assert len({t["line"]["color"] for t in outcomes.data}) == len(STATUS_CLASSES)
    hidden = {t["name"] for t in outcomes.data if t.get("visible") == "legendonly"}
    assert "broken" not in hidden
    assert "complete" not in hidden
    assert "stalled" in hidden  # listed, greyed: no request ended stalled


def test_latency_and_rate_panels_carry_the_phase_limits() -> None:
    panels = {p.key: p for p in build_panels(_judged(recording()))}
    for key, limit in (("p95_first_token", "<= 3,000 ms"), ("complete", ">= 95.00%"),
                       ("failures", "<= 1.00%"), ("availability", ">= 99.50%")):
        names = [t["name"] for t in panels[key].data]
        assert any(n.startswith("limit:") and n.endswith(limit) for n in names), (key, names)
    fault_lane = panels["timeline"].layout["annotations"][1]["text"]
    assert fault_lane == "fault provider-down: provider_outage down on primary"


def test_the_page_leads_with_a_coloured_verdict_and_the_run_facts(tmp_path: Path) -> None:
    write_final_files(tmp_path, _judged(recording()))
    page = (tmp_path / "report.html").read_text()
    assert '<header class="FAIL">' in page
    assert '<span class="badge FAIL" id="verdict">FAIL</span>' in page
    assert "Tier L (1,000 streams), driven at 100 streams (scaled drill, 10% of the tier)" in page
    assert "<h2>What did not pass</h2>" in page
    assert "<h2>Failures by class and code</h2>" in page
    assert page.index("<h2>Charts</h2>") < page.index("<h2>Phases</h2>")


@pytest.mark.slow
def test_a_two_hour_run_stays_under_1_5_mb(tmp_path: Path) -> None:
    evidence = _judged(long_recording(), tier="G")
    write_final_files(tmp_path, evidence)
    size = (tmp_path / "report.html").stat().st_size
    assert size < MAX_PAGE_BYTES, size
    for panel in _panels_json((tmp_path / "report.html").read_text()):
        for trace in panel["data"]:
            assert len(trace.get("x", [])) <= 1300, (panel["key"], trace["name"])


def _artefact(path: Path) -> None:
    target = os.environ.get("CHAOS_ARTEFACTS")
    if target:
        Path(target).mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, Path(target) / path.name)


@pytest.mark.slow
def test_report_html_draws_every_panel_in_headless_chromium(tmp_path: Path) -> None:
    """Loaded from a copy of the bundle (works offline wherever it is copied): no console
    error, only local files requested, every panel an SVG plot with its traces."""
    write_final_files(tmp_path / "written", _judged(recording(broken=2)))
    bundle = tmp_path / "elsewhere" / "bundle"
    shutil.copytree(tmp_path / "written", bundle)
    with chromium_page(tmp_path) as page:
        load(page, bundle / "report.html")
        expected = int(page.evaluate('document.getElementById("charts").dataset.panels'))
        drawn = page.wait_until('document.body.getAttribute("data-panels-drawn")', timeout_s=60)
        per_panel = page.evaluate(
            'Array.from(document.querySelectorAll("#charts .js-plotly-plot")).map(d => '
            '[d.id, d.querySelectorAll("svg.main-svg").length, d.querySelectorAll("g.trace").length, '
            'd.querySelectorAll(".xtick").length, d.querySelectorAll(".legend .traces").length])')
        shot = page.screenshot(tmp_path / "report-html.png")
        errors = page.errors()
        urls = page.requested_urls()
    _artefact(shot)
    assert errors == []
    assert all(u.startswith(("file://", "data:")) for u in urls), urls
    assert expected == 12
    assert int(drawn) == expected
    assert len(per_panel) == expected
    for panel_id, svgs, traces, ticks, legend in per_panel:
        assert svgs >= 1, panel_id
        assert traces >= 1, panel_id
        assert ticks >= 2, panel_id  # its own time axis
        assert legend >= 1, panel_id  # its own legend
    assert shot.stat().st_size > 50_000
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
