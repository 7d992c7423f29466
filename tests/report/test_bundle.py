"""The evidence bundle: incremental lines, final files, manifest, reading back, comparing."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from chaos.errors import EvidenceError
from chaos.report import (
    BundleWriter,
    Evidence,
    compare_evidence,
    read_evidence,
    read_raw,
    redact,
    safe_verdict,
    verify_manifest,
    write_final_files,
)
from chaos.slo.verdict import Verdict
from tests.report.synthetic import T0, criteria, recording


def _evidence(complete: bool = True) -> Evidence:
    rec = recording(complete=complete)
    crit = criteria()
    verdict = safe_verdict(Verdict.combine(c.verdict for c in crit), complete=complete)
    return Evidence(
        run_id=rec.run_id, drill="provider-outage", state="complete" if complete else "interrupted",
        recording=rec, verdict=verdict, criteria=crit,
        failover={"provider-down": {"region": "us-east", "detection_s": 1.5, "failover_s": 2.25,
                                    "back_within_slo_s": 7.0, "served_by": "us-west"}},
        inputs={"drill": {"name": "provider-outage"}}, meta={"tool": {"version": "0.1.0"}},
    )


def _write_streaming(tmp_path: Path) -> BundleWriter:
    rec = recording()
    writer = BundleWriter.create(tmp_path, "provider-outage", T0, run_meta={
        "run_id": rec.run_id, "drill": "provider-outage", "started_at": T0, "time_scale": 0.1, "load_scale": 1.0,
    })
    writer.write_phases(rec.phases)
    for w in rec.windows:
        writer.append_window(w)
    for s in rec.samples:
        writer.append_sample(s)
    for p in rec.probes:
        writer.append_probe(p)
    fault = rec.faults[0]
    writer.append_fault(type(fault)(**{**{f: getattr(fault, f) for f in fault.__slots__}, "reverted_at": None}))
    writer.append_fault(fault)
    writer.close()
    return writer


def test_bundle_directory_is_named_by_utc_time_and_drill(tmp_path: Path) -> None:
    writer = _write_streaming(tmp_path)
    assert writer.path.name == "20251009T085320Z-provider-outage"
    assert writer.statistics().lines_written["windows"] == 60


def test_killed_run_leaves_a_readable_incomplete_bundle_with_a_torn_last_line(tmp_path: Path) -> None:
    writer = _write_streaming(tmp_path)
    # Simulate a kill mid-write: the file ends in half a JSON object.
    with (writer.path / "windows.jsonl").open("a") as f:
        f.write('{"run_id": "run-1", "work')
    raw = read_raw(writer.path)
    assert raw.state == "running"
    assert not raw.recording.complete
    assert raw.recording.aborted == "killed"
    assert len(raw.recording.windows) == 60
    assert raw.recording.faults[0].reverted_at is not None  # the latest line per fault wins
    assert len(raw.recording.phases) == 5


def test_final_files_are_written_and_sealed_by_the_manifest(tmp_path: Path) -> None:
    evidence = _evidence()
    write_final_files(tmp_path, evidence)
    names = verify_manifest(tmp_path)
    assert {"evidence.json", "summary.md", "report.html", "junit.xml"} <= set(names)
    doc = json.loads((tmp_path / "evidence.json").read_text())
    assert doc["verdict"] == "FAIL"
    assert doc["schema_version"] == 1
    assert doc["faults"][0]["applied_at"] == pytest.approx(T0 + 10.05)
    assert doc["load"]["counts"]["5xx"] == 100
    assert doc["load"]["regions"] == {"us-east": 2000, "us-west": 1000}
    assert {c["id"] for c in doc["criteria"]} == {c.id for c in evidence.criteria}
    back = read_evidence(tmp_path)
    assert back.verdict is Verdict.FAIL
    assert back.criteria == evidence.criteria
    assert back.recording == evidence.recording


def test_editing_a_number_in_evidence_json_breaks_the_manifest_check(tmp_path: Path) -> None:
    write_final_files(tmp_path, _evidence())
    path = tmp_path / "evidence.json"
    path.write_text(path.read_text().replace('"measured": 10.0', '"measured": 0.5', 1))
    with pytest.raises(EvidenceError, match=r"evidence\.json: sha256 differs"):
        read_evidence(tmp_path)


def test_an_incomplete_run_never_claims_pass() -> None:
    assert safe_verdict(Verdict.PASS, complete=False) is Verdict.INCONCLUSIVE
    assert safe_verdict(Verdict.FAIL, complete=False) is Verdict.FAIL
    assert safe_verdict(Verdict.PASS, complete=True) is Verdict.PASS


def test_summary_names_verdict_criteria_phases_failover_and_faults(tmp_path: Path) -> None:
    write_final_files(tmp_path, _evidence(complete=False))
    text = (tmp_path / "summary.md").read_text()
    assert text.startswith("# Drill `provider-outage`: **FAIL**")
    assert "**INCOMPLETE RUN** (interrupted)" in text
    assert "| rate_5xx | <= 1.00% |  | **FAIL 10.00%** |" in text  # criteria by phase
    assert "| limits.circuit_open_max@run | **INCONCLUSIVE** | n/a, limit <= 120.0 s |" in text
    assert "| fault:provider-down | fault |" in text  # the phases table
    assert "| first response from another region | 2.25 s |" in text
    assert "| provider-down | provider_outage | down | primary |" in text


def test_junit_has_a_testcase_per_criterion_fault_revert_verdict_and_manifest(tmp_path: Path) -> None:
    write_final_files(tmp_path, _evidence())
    suite = ET.parse(tmp_path / "junit.xml").getroot().find("testsuite")
    assert suite is not None
    names = [c.get("name") for c in suite.findall("testcase")]
    assert names == ["verdict", *(c.id for c in criteria()), "fault provider-down reverted", "manifest"]
    assert suite.get("tests") == "7"
    assert suite.get("failures") == "3"
    assert suite.get("skipped") == "0"
    failed = [c.get("name") for c in suite.findall("testcase") if c.find("failure") is not None]
    assert failed == ["verdict", "tier_l.rate_5xx@fault:provider-down", "limits.circuit_open_max@run"]


def test_report_html_loads_plotly_from_the_bundle_not_inline(tmp_path: Path) -> None:
    write_final_files(tmp_path, _evidence())
    page = (tmp_path / "report.html").read_text()
    assert '<script src="plotly.min.js"' in page
    assert "http://" not in page
    assert "https://" not in page
    assert len(page.encode()) < 200_000
    assert (tmp_path / "plotly.min.js").stat().st_size > 1_000_000
    assert "plotly.min.js" in verify_manifest(tmp_path)
    assert "p95 first-token latency (ms)" in page


def test_redaction_keeps_references_and_hides_literal_secrets() -> None:
    doc = {"auth": {"token": "${CHAOS_TOKEN:-tb-{subject}}", "api_key": "sk-live-123"},
           "note": "uses sk-live-123 inline", "base_url": "http://127.0.0.1:1"}
    out = redact(doc, secrets=["sk-live-123"])
    assert out["auth"]["token"] == "${CHAOS_TOKEN:-tb-{subject}}"
    assert out["auth"]["api_key"] == "<redacted>"
    assert out["note"] == "uses <redacted> inline"
    assert out["base_url"] == "http://127.0.0.1:1"


def test_compare_shows_verdict_and_measurement_changes() -> None:
    before = _evidence()
    crit = list(criteria())
    crit[1] = type(crit[1])(**{**{f: getattr(crit[1], f) for f in crit[1].__slots__}, "verdict": Verdict.PASS, "measured": 0.2})
    after = Evidence(**{**{f: getattr(before, f) for f in before.__slots__}, "criteria": tuple(crit), "verdict": Verdict.INCONCLUSIVE})
    cmp = compare_evidence(before, after)
    assert cmp.verdict_changed
    changed = cmp.rows(only_changed=True)
    assert [r[0] for r in changed] == ["tier_l.rate_5xx@fault:provider-down"]
    assert changed[0][1:3] == ["FAIL", "PASS"]
    assert cmp.load["requests"] == (3000, 3000)


def test_a_running_bundle_whose_runner_is_gone_is_marked_killed_at_its_last_record(
    tmp_path: Path,
) -> None:
    import os
    import socket
    import subprocess
    import sys

    from chaos.report.bundle import mark_killed

    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    bundle = tmp_path / "b"
    bundle.mkdir()
    meta = {"run_id": "r", "state": "running", "started_at": 1.0, "pid": child.pid,
            "host": socket.gethostname()}
    (bundle / "run.json").write_text(json.dumps(meta))
    (bundle / "windows.jsonl").write_text("{}\n")
    os.utime(bundle / "windows.jsonl", (100.0, 100.0))
    assert mark_killed(bundle, why="test") == 100.0
    after = json.loads((bundle / "run.json").read_text())
    assert (after["state"], after["ended_at"], after["aborted"]) == ("killed", 100.0, "killed: test")
    assert mark_killed(bundle, why="again") is None  # only a running bundle
    alive = dict(meta, pid=os.getpid())
    (bundle / "run.json").write_text(json.dumps(alive))
    assert mark_killed(bundle, why="test") is None  # its runner is this live process
