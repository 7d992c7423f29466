"""The release checklist end to end against the real embedded testbed (Redis, Toxiproxy, processes)."""

from __future__ import annotations

import json
from pathlib import Path

import anyio
import pytest
from typer.testing import CliRunner

from chaos.cli import app
from chaos.release.checklist import ChangeClass, ReleaseResult, run_release
from chaos.release.config import Checklist
from chaos.release.privacy import canary_sha256, new_canary
from chaos.report.manifest import verify_manifest
from chaos.slo.verdict import Verdict
from chaos.spec.loader import load_environment
from chaos.testbed.state import load_state, restart_component, terminate
from tests.release.conftest import BURST, release_overrides
from tests.servers import wait_for
from tests.testbed_fixture import RunningTestbed, running_testbed

REPO = Path(__file__).resolve().parents[2]


def release(env_path: Path, *, canary: str | None = None, burst: int = BURST) -> ReleaseResult:
    env = load_environment(env_path)

    async def main() -> ReleaseResult:
        return await run_release(env, Checklist(), change_class=ChangeClass.A,
                                 env_path=str(env_path), canary=canary, burst_requests=burst)

    return anyio.run(main)


def verdicts(result: ReleaseResult) -> dict[str, Verdict]:
    return {c.id: c.verdict for c in result.criteria}


def test_checklist_passes_and_writes_a_sealed_bundle(testbed: RunningTestbed, tmp_path: Path) -> None:
    """`chaos release --change-class A` on a healthy testbed: every criterion PASS, exit 0, bundle sealed."""
    out = CliRunner().invoke(app, ["release", "--env", str(testbed.env_path), "--change-class", "A",
                                   "--checklist", str(REPO / "experiments" / "release.yaml"),
                                   "--burst", str(BURST), "--evidence-dir", str(tmp_path)])
    assert out.exit_code == 0, out.output
    assert "promotion MAY PROCEED" in out.output
    (bundle,) = tmp_path.iterdir()
    assert sorted(p.name for p in bundle.iterdir()) == [
        "evidence.json", "junit.xml", "manifest.sha256", "summary.md"]
    verify_manifest(bundle)
    evidence = json.loads((bundle / "evidence.json").read_text())
    assert evidence["verdict"] == "PASS"
    ids = {c["id"]: c["verdict"] for c in evidence["criteria"]}
    assert ids == dict.fromkeys((
        "release.health", "release.db_health", "release.auth_whoami", "release.chat_happy_path",
        "release.chat_wrong_content_type", "release.logs.no_user_text",
        "release.logs.required_fields", "release.chat_burst.rate_limited",
        "release.chat_burst.no_5xx"), "PASS")
    release_info = evidence["report"]["release"]
    assert release_info["promotion"]["allowed"] is True
    assert release_info["change_class"] == "A"
    assert len(release_info["canary_sha256"]) == 64


def test_canary_is_kept_only_as_its_hash(testbed: RunningTestbed, tmp_path: Path) -> None:
    """The privacy canary reaches the target but neither its logs nor the evidence in clear."""
    canary = new_canary()
    result = release(testbed.env_path, canary=canary)
    assert verdicts(result)["release.logs.no_user_text"] is Verdict.PASS
    assert result.canary_sha256 == canary_sha256(canary)
    from chaos.release.evidence import release_evidence, write_release_bundle

    evidence = release_evidence(result, inputs={}, input_paths=[testbed.env_path])
    bundle = write_release_bundle(tmp_path, result, evidence)
    for path in bundle.iterdir():
        text = path.read_text()
        assert canary not in text, path.name
    assert canary_sha256(canary) in (bundle / "evidence.json").read_text()


def test_privacy_fails_when_the_testbed_logs_message_text(tmp_path_factory: pytest.TempPathFactory) -> None:
    """The test hook `log_message_text` leaks the chat text: the privacy criterion fails, fields still pass."""
    with running_testbed(tmp_path_factory, release_overrides({"log_message_text": True})) as tb:
        result = release(tb.env_path)
    got = verdicts(result)
    assert got["release.logs.no_user_text"] is Verdict.FAIL
    assert got["release.logs.required_fields"] is Verdict.PASS
    assert got["release.chat_happy_path"] is Verdict.PASS
    leak = next(c for c in result.criteria if c.id == "release.logs.no_user_text")
    assert leak.measured is not None
    assert leak.measured >= 1
    assert result.exit_code == 1


def test_burst_fails_without_rate_limiting(tmp_path_factory: pytest.TempPathFactory) -> None:
    """With the per-subject limit disabled (0) no burst request gets 429: the burst criterion fails."""
    with running_testbed(tmp_path_factory, release_overrides({"rate_limit_requests": 0})) as tb:
        result = release(tb.env_path)
    got = verdicts(result)
    assert got["release.chat_burst.rate_limited"] is Verdict.FAIL
    assert got["release.chat_burst.no_5xx"] is Verdict.PASS
    assert got["release.logs.no_user_text"] is Verdict.PASS
    assert result.verdict is Verdict.FAIL


def test_class_b_runs_the_environments_drills(testbed: RunningTestbed, tmp_path: Path) -> None:
    """Class B adds one criterion per declared drill, judged by `chaos.run`, each with its own bundle."""
    env_text = testbed.env_path.read_text() + (
        f"release:\n  class_b_drills: [{Path(__file__).parent / 'class-b-smoke.yaml'}]\n")
    env_path = tmp_path / "env-b.yaml"
    env_path.write_text(env_text)
    out = CliRunner().invoke(app, ["release", "--env", str(env_path), "--change-class", "B",
                                   "--time-scale", "1", "--burst", str(BURST),
                                   "--evidence-dir", str(tmp_path / "runs")])
    assert out.exit_code in (0, 1, 3), out.output
    bundles = sorted((tmp_path / "runs").iterdir())
    release_bundle = next(b for b in bundles if "release" in b.name and "class-b" not in b.name)
    evidence = json.loads((release_bundle / "evidence.json").read_text())
    drill = next(c for c in evidence["criteria"] if c["id"] == "release.class_b.release-class-b-smoke")
    assert drill["details"]["bundle"], drill  # the drill wrote its own evidence
    drill_bundle = Path(drill["details"]["bundle"])
    drill_verdict = json.loads((drill_bundle / "evidence.json").read_text())["verdict"]
    assert drill["verdict"] == drill_verdict
    assert evidence["report"]["release"]["promotion"]["allowed"] is (evidence["verdict"] == "PASS")


def test_class_b_without_declared_drills_is_inconclusive(testbed: RunningTestbed, tmp_path: Path) -> None:
    """Class B needs the staging drill subset; an environment listing none cannot promote."""
    out = CliRunner().invoke(app, ["release", "--env", str(testbed.env_path), "--change-class", "B",
                                   "--burst", str(BURST), "--evidence-dir", str(tmp_path)])
    assert out.exit_code == 3, out.output
    assert "release.class_b.drills" in out.output
    assert "promotion BLOCKED" in out.output


def test_redis_stopped_fails_db_health(testbed: RunningTestbed) -> None:
    """With the Redis process gone, /db/health (through the router) fails and promotion is blocked.

    Last in this module: after a Redis restart the gateways' pooled connections are stale, and
    each answers one 503 redis_unavailable before it is replaced."""
    redis = load_state(testbed.state_path).components["redis"]
    terminate(redis.pid, redis.argv)
    try:
        result = release(testbed.env_path, burst=3)
    finally:
        restart_component(testbed.state_path, "redis")
    got = verdicts(result)
    assert got["release.db_health"] is Verdict.FAIL
    db = next(c for c in result.criteria if c.id == "release.db_health")
    assert db.measured == 503.0
    assert db.details.get("error") in ("redis_unavailable", "gateway_unhealthy")
    assert result.verdict is Verdict.FAIL
    assert not result.promotion_allowed
    assert result.exit_code == 1
    import httpx

    wait_for(lambda: httpx.get(testbed.base_url + "/db/health", timeout=1).status_code == 200,
             20, "testbed Redis back")
