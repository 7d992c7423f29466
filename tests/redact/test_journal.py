"""The fault journal keeps `${VAR}`, never the secret; `chaos cleanup --run` resolves it again
(and says which variable is missing), against the real Toxiproxy."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import anyio
import pytest

from chaos.faults import JOURNAL_NAME, Executor, Journal, Primitive, Targets, read_journal
from chaos.spec import expand_env
from tests.faults.envs import make_proxies
from tests.faults.test_replay import clean
from tests.redact.forms import leaks
from tests.servers import ToxiproxyServer

ROOT = Path(__file__).resolve().parents[2]
PASS = "Jp4ss!w0rd*Qx7Lm"  # the Toxiproxy API password
SIG = "Js1g-Vz8Qk2Lw9Rt"  # a signed-URL query parameter
PROJECT = "staging-Jc7Tq-blue"  # a compose project


def _cleanup(run_dir: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("CHAOS_TEST_J_")}
    return subprocess.run([sys.executable, "-m", "chaos", "cleanup", "--run", str(run_dir)],
                          cwd=ROOT, capture_output=True, text=True, timeout=120,
                          env={**environ, **env, "PYTHONPATH": str(ROOT)})


def _crashed_run(run_dir: Path, api_written: str, port: int) -> None:
    """A run that journalled and applied two primitives, then died: a proxy disabled through
    the Toxiproxy client, another through an `http` primitive with a signed URL."""
    api = expand_env(api_written.format(port=port))
    url = expand_env(f"http://127.0.0.1:{port}/proxies/router-us-west?sig=${{CHAOS_TEST_J_SIG}}")
    targets = Targets(toxiproxy_api=api, runtime="docker",
                      compose_project=expand_env("${CHAOS_TEST_J_PROJECT}"))
    http = Primitive("http", url, {
        "apply": {"method": "POST", "url": url, "body": {"enabled": False}, "expect_status": 200},
        "undo": {"method": "POST", "url": url, "body": {"enabled": True}, "expect_status": 200}})

    async def go() -> None:
        journal = Journal.create(run_dir / JOURNAL_NAME, run_id="crashed", targets=targets)
        async with Executor(targets) as ex:
            for p in (Primitive("toxiproxy.disable", "router-us-east"), http):
                journal.intend("f", p)
                await ex.apply(p)
        journal.write({"type": "note", "error": f"401 from {url}"})
        journal.close()

    anyio.run(go)


def test_the_journal_stores_variables_and_cleanup_resolves_them(
        toxiproxy: ToxiproxyServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    secrets = {"CHAOS_TEST_J_PASS": PASS, "CHAOS_TEST_J_SIG": SIG, "CHAOS_TEST_J_PROJECT": PROJECT}
    for name, value in secrets.items():
        monkeypatch.setenv(name, value)
    make_proxies(toxiproxy.api_url, "127.0.0.1:9")
    _crashed_run(tmp_path, "http://chaos:${{CHAOS_TEST_J_PASS}}@127.0.0.1:{port}", toxiproxy.port)
    assert not clean(toxiproxy.api_url)

    text = (tmp_path / JOURNAL_NAME).read_text("utf-8")
    for secret in secrets.values():
        assert leaks(text, secret) == []
    assert f"http://chaos:${{CHAOS_TEST_J_PASS}}@127.0.0.1:{toxiproxy.port}" in text
    assert "router-us-west?sig=${CHAOS_TEST_J_SIG}" in text
    assert '"compose_project":"${CHAOS_TEST_J_PROJECT}"' in text
    targets, _, _ = read_journal(tmp_path / JOURNAL_NAME)  # resolved for this process
    assert targets.compose_project == PROJECT

    missing = _cleanup(tmp_path, CHAOS_TEST_J_SIG=SIG, CHAOS_TEST_J_PROJECT=PROJECT)
    assert missing.returncode == 4, missing.stderr
    assert "CHAOS_TEST_J_PASS is not set" in missing.stderr
    assert "Traceback" not in missing.stderr
    assert not clean(toxiproxy.api_url)

    done = _cleanup(tmp_path, **secrets)
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("reverted (targeted) f:") == 2, done.stdout
    assert clean(toxiproxy.api_url)
    after = (tmp_path / JOURNAL_NAME).read_text("utf-8")
    assert after.count('"type":"reverted"') == 2
    for secret in secrets.values():
        assert leaks(done.stdout + done.stderr + missing.stderr + after, secret) == []
