"""Provider outage drills end to end on the embedded testbed (real Toxiproxy and Redis):
with the fallback -> PASS; with the fallback route failing too -> FAIL naming the circuit limit
and the 5xx criteria; `chaos report` re-judges a bundle to the same verdicts, and editing a
number in evidence.json breaks its manifest check."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from chaos.cli import app
from chaos.errors import ExitCode
from chaos.report import read_evidence
from chaos.slo.verdict import Verdict
from tests.e2e.helpers import criteria, proxies_clean, run, table
from tests.testbed_fixture import RunningTestbed

# 5 minutes -> 30 s; 100 streams -> 25 (think time 0.5 s): about 40 requests/s on 2 shared cores.
TIME_SCALE = 0.1
LOAD_SCALE = 0.25


def test_provider_outage_with_fallback_passes_and_report_gives_the_same_verdicts(
    testbed: RunningTestbed, tmp_path: Path
) -> None:
    """The primary answers 503 for the fault window: requests fall back, the primary circuit
    opens and closes again within the (compressed) limit, Tier L holds in every phase."""
    result = run(testbed, "provider-outage", tmp_path, time_scale=TIME_SCALE, load_scale=LOAD_SCALE)
    assert result.bundle is not None
    assert proxies_clean(testbed)
    assert result.state == "complete", result.reason
    assert result.verdict is Verdict.PASS, table(result.bundle)
    assert result.exit_code == ExitCode.PASS
    evidence = read_evidence(result.bundle)
    fault = evidence.recording.faults[0]
    assert fault.applied_at is not None
    assert fault.reverted_at is not None
    assert fault.reverted_at > fault.applied_at
    found = criteria(result.bundle)
    circuit = found["limits.circuit_open@run[route=primary]"]
    assert circuit["verdict"] == "PASS", circuit
    assert circuit["measured"] > 0, circuit  # it did open
    doc = json.loads((result.bundle / "evidence.json").read_text())
    assert doc["time_scale"] == TIME_SCALE
    assert doc["load"]["counts"]["2xx"] > 0

    cli = CliRunner().invoke(app, ["report", str(result.bundle)])
    assert "same verdicts as the run" in cli.output, cli.output
    assert cli.exit_code == ExitCode.PASS

    # Editing one number in evidence.json breaks the manifest check.
    path = result.bundle / "evidence.json"
    edited = json.loads(path.read_text())
    edited["load"]["counts"]["2xx"] += 1
    path.write_text(json.dumps(edited))
    cli = CliRunner().invoke(app, ["report", str(result.bundle)])
    assert cli.exit_code != ExitCode.PASS
    assert "manifest" in cli.output.lower(), cli.output


def test_provider_outage_without_fallback_fails_on_circuit_limit_and_5xx(
    testbed: RunningTestbed, tmp_path: Path
) -> None:
    result = run(testbed, "provider-outage-no-fallback", tmp_path, time_scale=TIME_SCALE,
                 load_scale=LOAD_SCALE)
    assert result.bundle is not None
    assert proxies_clean(testbed)
    assert result.state == "complete", result.reason
    assert result.verdict is Verdict.FAIL, table(result.bundle)
    assert result.exit_code == ExitCode.FAIL
    failed = {cid for cid, c in criteria(result.bundle).items() if c["verdict"] == "FAIL"}
    assert "limits.circuit_open@run[route=fallback]" in failed, table(result.bundle)
    assert any(cid.startswith("tier_l.rate_5xx@fault:") for cid in failed), table(result.bundle)
    cli = CliRunner().invoke(app, ["report", str(result.bundle)])
    assert "same verdicts as the run" in cli.output, cli.output
    assert cli.exit_code == ExitCode.FAIL
