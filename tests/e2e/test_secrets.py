"""No secret in any bundle file or any output: a distinctive secret in every field that takes
`${VAR}`, then `chaos validate`, `plan` and `run` (one provider fault) on the embedded testbed
through the CLI, and a search of the whole bundle and everything printed for it, plain,
URL-encoded and base64-encoded. The journal keeps `${VAR}`, and `chaos cleanup` reverts with it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import yaml

from chaos.errors import ExitCode
from chaos.faults import JOURNAL_NAME
from tests.e2e.helpers import MAX_DRIVER_LAG_MS
from tests.redact.forms import leaks
from tests.testbed_fixture import RunningTestbed

ROOT = Path(__file__).resolve().parents[2]
SECRETS = {
    "CHAOS_E2E_TOKEN": "S3cr3tT0k-x9Q.Zk7_Wm4",  # in the bearer token: what tb- tokens allow
    "CHAOS_E2E_KEY": "S3cr3tK3y!x9Q*Zk7~Wm4",  # header values
    "CHAOS_E2E_SIG": "S3cr3tS1g!x9Q*Zk7~Wm4",  # query parameters of signed URLs
    "CHAOS_E2E_PASS": "S3cr3tP4ss!x9Q*Zk7~Wm4",  # URL passwords
}

DRILL = """
version: 1
name: secrets-smoke
description: Light load, the primary provider answers 503 for a while.
tier: L
duration: 40s
load: {{model: closed, streams: 4, think_time: 500ms, ramp_up: 4s, ramp_down: 4s, message: hi}}
phases: {{baseline: 10s}}
faults:
  - {{id: primary-503, scenario: provider_outage, target: primary, mode: http_errors,
     status: 503, at: 16s, for: 8s}}
steady_state:
  - name: target-healthy
    http: {{url: "{router}/health?sig=${{CHAOS_E2E_SIG}}", expect_status: 200}}
"""


def _signed(url: str) -> str:
    return f"{url}{'&' if '?' in url else '?'}sig=${{CHAOS_E2E_SIG}}"


def _with_password(url: str, user: str) -> str:
    return url.replace("http://", f"http://{user}:${{CHAOS_E2E_PASS}}@", 1)


def secret_environment(tb: RunningTestbed) -> dict[str, Any]:
    """The testbed's environment with a secret in every field a run resolves `${VAR}` in."""
    env: dict[str, Any] = yaml.safe_load(tb.env_path.read_text("utf-8"))
    target = env["target"]
    target["auth"]["token"] = "tb-${CHAOS_E2E_TOKEN}-{subject}"
    target["headers"] = {"x-api-key": "${CHAOS_E2E_KEY}"}
    env["toxiproxy"]["api"] = _with_password(env["toxiproxy"]["api"], "chaos")
    for route in env["topology"]["providers"].values():
        route["http_fault"] = _signed(route["http_fault"])
    for region in env["topology"]["regions"].values():
        region["health_url"] = _signed(region["health_url"])
        region["drain"]["url"] = _signed(region["drain"]["url"])
        region["undrain"]["url"] = _signed(region["undrain"]["url"])
    metrics = env["metrics"]
    metrics["scrape"] = [_signed(u) for u in metrics["scrape"]]
    metrics["headers"] = {"authorization": "Bearer ${CHAOS_E2E_KEY}"}
    # No Prometheus in the testbed: its queries fail and leave gaps (their errors name the URL).
    metrics["prometheus"] = _with_password(f"{tb.base_url}/prometheus", "prom")
    env["secrets"] = {"query_params": ["sig"], "headers": ["x-api-key"]}
    return env


def chaos(*args: str, env: dict[str, str] | None = None,
          timeout: float = 240) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("CHAOS_E2E_")}
    return subprocess.run([sys.executable, "-m", "chaos", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=timeout,
                          env={**environ, "NO_COLOR": "1", "PYTHONPATH": str(ROOT),
                               **(SECRETS if env is None else env)})


def found_secrets(text: str) -> dict[str, list[str]]:
    return {name: hits for name, value in SECRETS.items() if (hits := leaks(text, value))}


def provider_fault(tb: RunningTestbed) -> Any:
    return httpx.get(f"{tb.provider_url('primary')}/admin/fault", timeout=5).json()["fault"]


def test_no_secret_reaches_the_bundle_or_the_output_and_cleanup_replays_the_journal(
        testbed: RunningTestbed, tmp_path: Path) -> None:
    env_path = tmp_path / "environment.yaml"
    env_path.write_text(yaml.safe_dump(secret_environment(testbed), sort_keys=False), "utf-8")
    drill_path = tmp_path / "drill.yaml"
    drill_path.write_text(DRILL.format(router=testbed.base_url), "utf-8")
    # `chaos plan` without preflight also takes a target URL with a password and a signed query.
    plan_env = secret_environment(testbed)
    plan_env["target"]["base_url"] = _signed(_with_password(testbed.base_url, "tb"))
    plan_env_path = tmp_path / "plan-environment.yaml"
    plan_env_path.write_text(yaml.safe_dump(plan_env, sort_keys=False), "utf-8")
    evidence = tmp_path / "runs"

    outputs = {
        "validate": chaos("validate", str(drill_path), "--env", str(env_path)),
        "plan": chaos("plan", str(drill_path), "--env", str(env_path)),
        "plan --no-preflight": chaos("plan", str(drill_path), "--env", str(plan_env_path),
                                     "--no-preflight"),
        "run": chaos("run", str(drill_path), "--env", str(env_path), "--time-scale", "0.5",
                     "--evidence-dir", str(evidence), "--max-driver-lag-ms", str(MAX_DRIVER_LAG_MS)),
    }
    for what, done in outputs.items():
        shown = f"{what}: exit {done.returncode}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
        assert "Traceback" not in done.stderr, shown
        assert found_secrets(done.stdout + done.stderr) == {}, shown
    assert outputs["validate"].returncode == 0, outputs["validate"].stdout
    assert outputs["plan"].returncode == 0, outputs["plan"].stdout
    assert "<redacted:CHAOS_E2E_SIG>" in outputs["plan"].stdout  # the fault switch it will call
    assert "http://***@" in outputs["plan"].stdout  # preflight: the Toxiproxy API answers
    run = outputs["run"]
    assert run.returncode in (ExitCode.PASS, ExitCode.FAIL, ExitCode.INCONCLUSIVE), run.stderr

    (bundle,) = [p for p in evidence.iterdir() if p.is_dir()]
    files = sorted(p for p in bundle.rglob("*") if p.is_file())
    names = {p.name for p in files}
    assert {"evidence.json", "samples.jsonl", "faults.jsonl", JOURNAL_NAME, "inputs.json",
            "events.jsonl", "summary.md", "report.html", "junit.xml", "manifest.sha256"} <= names
    for path in files:
        text = path.read_bytes().decode("utf-8", "replace")
        assert found_secrets(text) == {}, path.name
    samples = [json.loads(line) for line in (bundle / "samples.jsonl").read_text().splitlines()]
    assert any(s["source"].endswith("?sig=<redacted:CHAOS_E2E_SIG>") for s in samples)

    inputs = (bundle / "inputs.json").read_text("utf-8")  # as written: references, no values
    assert "http://chaos:${CHAOS_E2E_PASS}@127.0.0.1:" in inputs
    assert '"x-api-key": "${CHAOS_E2E_KEY}"' in inputs
    journal = (bundle / JOURNAL_NAME).read_text("utf-8")
    assert "/admin/fault?sig=${CHAOS_E2E_SIG}" in journal
    assert "http://chaos:${CHAOS_E2E_PASS}@127.0.0.1:" in journal

    # A run killed mid-fault: its journal without the revert, the fault switch still on.
    killed = tmp_path / "killed"
    killed.mkdir()
    lines = [line for line in journal.splitlines()
             if json.loads(line)["type"] not in ("reverted", "closed")]
    (killed / JOURNAL_NAME).write_text("\n".join(lines) + "\n", "utf-8")
    httpx.post(f"{testbed.provider_url('primary')}/admin/fault", json={"status": 503}, timeout=5)
    assert provider_fault(testbed) is not None

    without = chaos("cleanup", "--run", str(killed), env={})
    assert without.returncode == ExitCode.INFRASTRUCTURE, without.stderr
    assert "environment variable CHAOS_E2E_PASS is not set" in without.stderr
    assert provider_fault(testbed) is not None

    cleanup = chaos("cleanup", "--run", str(killed))
    assert cleanup.returncode == 0, cleanup.stderr
    assert "reverted (targeted) primary-503" in cleanup.stdout
    assert provider_fault(testbed) is None
    assert found_secrets(cleanup.stdout + cleanup.stderr + without.stderr) == {}
    assert found_secrets((killed / JOURNAL_NAME).read_text("utf-8")) == {}
    shutil.rmtree(killed)
