"""Redaction has one owner at the boundary: every file the framework writes goes through a
redacting primitive, so a new writer cannot forget it."""

from __future__ import annotations

import json
import re
from pathlib import Path

from chaos.recording import Sample
from chaos.redact import register_variable
from chaos.report.bundle import BundleWriter, write_json_atomic, write_text_atomic

ROOT = Path(__file__).resolve().parents[2]
SECRET = "Wr1ter-secret-8Jx"

# Where the framework writes a file, and why that place is safe.
ALLOWED: dict[str, str] = {
    "chaos/report/bundle.py": "the redacting write primitives themselves",
    "chaos/faults/journal.py": "the fault journal: SECRETS.for_journal on every line",
    "chaos/faults/watchdog.py": "watchdog.log: each line through redact_text",
    "chaos/run/orchestrator.py": "the seal reserve (zeros) and debug.log through redact_text",
    "chaos/report/manifest.py": "sha256 lines over file names",
    "chaos/report/html.py": "plotly.min.js, copied from the plotly package",
    "chaos/cli/spec_cmds.py": "the JSON schema of the models: no run data",
    "chaos/cli/flags.py": "an empty temporary file: can the directory be written?",
    "chaos/run/preflight.py": "an empty temporary file: is there room for the bundle?",
    "chaos/control/lock.py": "the environment lock, claimed with O_EXCL: pid, host, user, run dir",
    "chaos/control/requests.py": "abort/resume requests (who, when, the operator's reason) "
                                 "through redact_text",
}
MUST_REDACT = ("chaos/faults/watchdog.py", "chaos/run/orchestrator.py",
               "chaos/control/requests.py")  # when they write
_WRITE = re.compile(r"\.write_text\(|\.write_bytes\(|os\.write\(|json\.dump\(|\.open\([\"'][wa]|"
                    r"[^.]open\([^)]*[\"'][wax]b?[\"']|O_WRONLY|NamedTemporaryFile\(|FileHandler\(")


def test_every_file_writer_is_a_redacting_primitive() -> None:
    """The embedded testbed (chaos/testbed) is the system under test and holds no secret of a
    run; everything else writes through chaos.report.bundle or an allowed place."""
    found: dict[str, list[str]] = {}
    for path in sorted((ROOT / "chaos").rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        if rel.startswith("chaos/testbed/"):
            continue
        text = path.read_text("utf-8")
        writes = [f"{n}: {line.strip()}" for n, line in enumerate(text.splitlines(), 1)
                  if _WRITE.search(line)]
        if writes and (rel not in ALLOWED or (rel in MUST_REDACT and "redact_text(" not in text)):
            found[rel] = writes
    assert found == {}, ("write through chaos.report.bundle.write_text_atomic / write_json_atomic "
                         f"(they redact secrets): {json.dumps(found, indent=1)}")


def test_bundle_files_are_redacted_as_written(tmp_path: Path) -> None:
    register_variable("CHAOS_TEST_WRITER_SIG", SECRET)
    url = f"http://127.0.0.1:1/metrics?sig={SECRET}"
    writer = BundleWriter.create(tmp_path, "d", 0.0, run_meta={"run_id": "r", "api": url})
    writer.append_sample(Sample(1.0, "circuit_state", {"route": "p"}, 0.0, url))
    writer.append_event("error", f"GET {url} failed", url=url)
    writer.write_inputs({"environment": {"metrics": {"scrape": [url]}}})
    writer.close()
    write_text_atomic(tmp_path / "summary.md", f"* {url}\n")
    write_json_atomic(tmp_path / "evidence.json", {"sources": [url], SECRET: 1}, indent=1)
    written = {p.name: p.read_text("utf-8") for p in (*writer.path.iterdir(), *tmp_path.glob("*.*"))}
    assert set(written) >= {"run.json", "samples.jsonl", "events.jsonl", "inputs.json",
                            "summary.md", "evidence.json"}
    for name, text in written.items():
        assert SECRET not in text, name
        assert "<redacted:CHAOS_TEST_WRITER_SIG>" in text, name
    sample = json.loads(written["samples.jsonl"])
    assert sample["source"] == "http://127.0.0.1:1/metrics?sig=<redacted:CHAOS_TEST_WRITER_SIG>"
    assert not list(tmp_path.rglob("*.tmp"))
