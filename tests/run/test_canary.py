"""Preflight's canary against a real OpenAI / Anthropic speaking target behind the real Toxiproxy:
a complete stream passes, every other answer refuses the drill with one line naming what the
target said and what to fix, from `run_preflight`, `chaos plan` and `chaos run` alike."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import anyio
import httpx
import pytest

from chaos.errors import ExitCode
from chaos.run.preflight import CheckResult, PreflightReport, run_preflight
from chaos.spec import load_environment, parse_drill
from tests.protocol_target import ANTHROPIC_PATH, OPENAI_PATH, ProtocolTarget
from tests.servers import ToxiproxyServer, wait_for

REPO = Path(__file__).resolve().parents[2]
PROXY = "chat-target"
DRILL = """version: 1
name: canary-drill
tier: L
duration: 10s
load:
  streams: 2
"""
MODELS = {"openai": "gpt-4o-mini", "anthropic": "claude-3-5-haiku-latest"}
PATHS = {"openai": OPENAI_PATH, "anthropic": ANTHROPIC_PATH}


def write_env(tmp_path: Path, toxiproxy_api: str, base_url: str, *, protocol: str,
              model: str | None = None, chat_path: str | None = None,
              token: str = "sk-test-{subject}") -> Path:
    """An environment whose target is `base_url` (the target behind Toxiproxy proxy
    `chat-target`), no services, and the target's own /metrics."""
    state = tmp_path / "state.json"
    state.write_text('{"components": {}}', encoding="utf-8")
    lines = [f"  base_url: {base_url}", f"  protocol: {protocol}"]
    if model is not None:
        lines.append(f"  model: {model}")
    if chat_path is not None:
        lines.append(f"  chat_path: {chat_path}")
    lines.append(f'  auth: {{token: "{token}", subjects: 10}}')
    target = "\n".join(lines)
    text = f"""version: 1
name: canary-test
kind: local
target:
{target}
toxiproxy:
  api: {toxiproxy_api}
runtime:
  kind: process
  state_file: {state}
topology:
  primary_route: primary
  providers:
    primary:
      proxies: [{PROXY}]
metrics:
  scrape: [{base_url}/metrics]
"""
    path = tmp_path / "env.yaml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def target() -> Iterator[ProtocolTarget]:
    with ProtocolTarget(stall_max_s=40.0) as server:
        yield server


@pytest.fixture
def base_url(toxiproxy: ToxiproxyServer, target: ProtocolTarget) -> str:
    """The target as the framework reaches it: through a real Toxiproxy proxy."""
    response = httpx.post(f"{toxiproxy.api_url}/proxies", timeout=5, json={
        "name": PROXY, "listen": "127.0.0.1:0", "upstream": f"127.0.0.1:{target.port}"})
    response.raise_for_status()
    return f"http://{response.json()['listen']}"


def preflight(env_path: Path) -> PreflightReport:
    return anyio.run(run_preflight, parse_drill(DRILL), load_environment(env_path))


def canary(report: PreflightReport) -> CheckResult:
    check = report.check("canary")
    assert check is not None, [str(c) for c in report.checks]
    for line in report.checks:
        assert "\n" not in str(line), str(line)
    return check


def only_canary_fails(report: PreflightReport) -> str:
    """The canary's refusal line, after checking that nothing else failed."""
    assert [c.name for c in report.failures] == ["canary"], [str(c) for c in report.checks]
    return canary(report).detail


def env_for(protocol: str, tmp_path: Path, toxiproxy: ToxiproxyServer, base_url: str,
            **kwargs: str) -> Path:
    return write_env(tmp_path, toxiproxy.api_url, base_url, protocol=protocol,
                     model=MODELS[protocol], **kwargs)


@pytest.mark.parametrize("protocol", ["openai", "anthropic"])
def test_a_complete_stream_passes_naming_protocol_and_first_token_ms(
    protocol: str, target: ProtocolTarget, base_url: str, toxiproxy: ToxiproxyServer, tmp_path: Path
) -> None:
    report = preflight(env_for(protocol, tmp_path, toxiproxy, base_url))
    assert report.ok, [str(c) for c in report.checks]
    detail = canary(report).detail
    match = re.fullmatch(rf"{protocol} stream complete, first token (\d+) ms", detail)
    assert match, detail
    assert int(match.group(1)) >= 40  # the target waits 50 ms before its first content chunk
    sent = target.chat_requests()
    assert [(r.path, r.subject, r.behaviour, r.status, r.finished) for r in sent] == [
        (PATHS[protocol], "canary", "complete", 200, True)]


def test_custom_protocol_at_an_openai_target_is_refused_with_exactly_one_line(
    target: ProtocolTarget, base_url: str, toxiproxy: ToxiproxyServer, tmp_path: Path
) -> None:
    """The testbed dialect's body ({"message": "hi"}) at /v1/chat/completions: the target's own
    400 and the hint to check target.protocol, on one line."""
    env = write_env(tmp_path, toxiproxy.api_url, base_url, protocol="custom", chat_path=OPENAI_PATH)
    line = only_canary_fails(preflight(env))
    assert line == ('target answered 400 invalid_request_error "missing \'messages\'": '
                    "is target.protocol right? (now custom)")
    assert [r.status for r in target.chat_requests()] == [400]


@pytest.mark.parametrize(("protocol", "said"), [
    ("openai", '401 invalid_api_key "Incorrect API key provided."'),
    ("anthropic", '401 authentication_error "invalid x-api-key"'),
])
def test_a_wrong_key_says_to_check_target_auth_token(
    protocol: str, said: str, target: ProtocolTarget, base_url: str, toxiproxy: ToxiproxyServer,
    tmp_path: Path
) -> None:
    env = env_for(protocol, tmp_path, toxiproxy, base_url, token="wrong-key")
    line = only_canary_fails(preflight(env))
    assert line == f"target answered {said}: is target.auth.token right?"
    assert "wrong-key" not in line


def test_openai_protocol_at_an_anthropic_target_is_refused(
    target: ProtocolTarget, base_url: str, toxiproxy: ToxiproxyServer, tmp_path: Path
) -> None:
    """OpenAI sends its key as `Authorization: Bearer`, Anthropic reads `x-api-key`: the
    target answers 401, so the line names the token (a right key, in the wrong header)."""
    env = write_env(tmp_path, toxiproxy.api_url, base_url, protocol="openai",
                    model=MODELS["openai"], chat_path=ANTHROPIC_PATH)
    line = only_canary_fails(preflight(env))
    assert line.startswith('target answered 401 authentication_error "invalid x-api-key": '), line


# What the line says of each behaviour: (what the target answered, the hint), per protocol.
_OPENAI_BROKEN = 'server_error "The server had an error while processing your request. Sorry about that!"'
REFUSALS: dict[tuple[str, str], tuple[str, str]] = {
    ("openai", "broken"): (f"200 broken stream {_OPENAI_BROKEN}", "in-band error before any fault"),
    ("anthropic", "broken"): ('200 broken stream overloaded_error "Overloaded"',
                              "in-band error before any fault"),
    ("openai", "truncated"): ("200 truncated stream", "without the completion marker of openai"),
    ("anthropic", "truncated"): ("200 truncated stream", "without the completion marker of anthropic"),
    ("openai", "malformed"): ("200 malformed stream unparseable_chunk", "does not read as openai"),
    ("anthropic", "malformed"): ("200 malformed stream unparseable_chunk", "does not read as anthropic"),
    ("openai", "json_error"): ('200 broken stream server_error "The server is overloaded or not ready yet."',
                               "in-band error before any fault"),
    ("anthropic", "json_error"): ('200 broken stream overloaded_error "Overloaded"',
                                  "in-band error before any fault"),
    ("openai", "rate_limited_in_band"): ('200 rate-limited in-band (429) rate_limit_exceeded "Rate limit reached for requests"',
                                         "sheds load before the drill starts"),
    ("anthropic", "rate_limited_in_band"): (
        '200 rate-limited in-band (429) rate_limit_error "Number of request tokens has exceeded your per-minute rate limit"',
        "sheds load before the drill starts"),
    ("openai", "http_503"): ('503 server_error "The server is overloaded or not ready yet."',
                             "fails before any fault: check its health"),
    ("anthropic", "http_503"): ('503 overloaded_error "Overloaded"',
                                "fails before any fault: check its health"),
}


@pytest.mark.parametrize(("protocol", "behaviour"), sorted(REFUSALS))
def test_every_failing_answer_is_refused_with_one_line_naming_class_and_code(
    protocol: str, behaviour: str, target: ProtocolTarget, base_url: str,
    toxiproxy: ToxiproxyServer, tmp_path: Path
) -> None:
    target.behaviour = behaviour
    said, hint = REFUSALS[protocol, behaviour]
    line = only_canary_fails(preflight(env_for(protocol, tmp_path, toxiproxy, base_url)))
    assert line.startswith(f"target answered {said}: "), line
    assert hint in line, line
    assert [r.behaviour for r in target.chat_requests()] == [behaviour]


@pytest.fixture
def short_canary(monkeypatch: pytest.MonkeyPatch) -> None:
    """The canary's bounds at 5 s (stall 2.5 s) instead of 20 s (10 s): the stall tests
    wait for the bound to pass, and the rule does not depend on its length."""
    monkeypatch.setattr("chaos.run.preflight.CANARY_TIMEOUT_S", 5.0)


@pytest.mark.slow
@pytest.mark.parametrize("protocol", ["openai", "anthropic"])
@pytest.mark.usefixtures("short_canary")
def test_a_stalled_stream_with_keepalive_comments_is_refused_and_the_canary_leaves(
    protocol: str, target: ProtocolTarget, base_url: str, toxiproxy: ToxiproxyServer, tmp_path: Path
) -> None:
    """Content, then only `: keep-alive` comments every second: comments are not events, so
    they cannot hide the stall; the canary gives up after its stall bound and hangs up."""
    target.behaviour = "stall"
    target.stall_keepalive_s = 1.0
    line = only_canary_fails(preflight(env_for(protocol, tmp_path, toxiproxy, base_url)))
    assert line == ("target answered 200 stalled stream: the stream stopped sending events: "
                    "check the target")
    wait_for(lambda: target.chat_requests()[0].client_gone, 10, "the target to see the canary leave")


# The canary's own bounds decide a slow or silent stream (its read timeout is the stall bound,
# not the preflight client's 3 s), and a read timeout after a 2xx head is a stall.
@pytest.mark.slow
@pytest.mark.usefixtures("short_canary")
def test_a_silent_stream_is_refused_as_stalled(
    target: ProtocolTarget, base_url: str, toxiproxy: ToxiproxyServer, tmp_path: Path
) -> None:
    """Content, then pure silence: a stalled stream, not a truncated one."""
    target.behaviour = "stall"
    line = only_canary_fails(preflight(env_for("openai", tmp_path, toxiproxy, base_url)))
    assert line == ("target answered 200 stalled stream: the stream stopped sending events: "
                    "check the target")


def test_a_healthy_target_with_a_4s_first_token_passes(
    toxiproxy: ToxiproxyServer, tmp_path: Path
) -> None:
    """A reasoning model that sends its first chunk after 4 s is well within the canary's 20 s
    and 10 s stall bound: preflight must not refuse it."""
    with ProtocolTarget(first_token_delay_s=4.0) as slow:
        report = preflight(write_env(tmp_path, toxiproxy.api_url, slow.url, protocol="openai",
                                     model=MODELS["openai"]))
    assert canary(report).ok, canary(report).detail


def test_every_failing_check_is_one_line_when_toxiproxy_is_dead(
    target: ProtocolTarget, tmp_path: Path
) -> None:
    """Without the proxy the environment names and with a dead Toxiproxy API, every failing
    check still prints one line; the canary reaches the target directly and passes."""
    from tests.servers import free_port

    env = write_env(tmp_path, f"http://127.0.0.1:{free_port()}", target.url, protocol="openai",
                    model=MODELS["openai"])
    report = preflight(env)
    assert {c.name for c in report.failures} == {"toxiproxy", "proxies"}
    assert canary(report).ok


# -- the command line ----------------------------------------------------------------------

def _chaos(*args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, COLUMNS="80", NO_COLOR="1", PYTHONPATH=str(REPO))
    return subprocess.run([sys.executable, "-m", "chaos", *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=120, check=False)


WRONG_PROTOCOL = ('FAIL canary: target answered 400 invalid_request_error "missing \'messages\'": '
                  "is target.protocol right? (now custom)")


@pytest.fixture
def wrong_protocol_env(target: ProtocolTarget, base_url: str, toxiproxy: ToxiproxyServer,
                       tmp_path: Path) -> tuple[Path, Path]:
    drill = tmp_path / "drill.yaml"
    drill.write_text(DRILL, encoding="utf-8")
    env = write_env(tmp_path, toxiproxy.api_url, base_url, protocol="custom", chat_path=OPENAI_PATH)
    return drill, env


def test_chaos_plan_exits_4_with_the_refusal_on_one_line(
    wrong_protocol_env: tuple[Path, Path], target: ProtocolTarget
) -> None:
    drill, env = wrong_protocol_env
    done = _chaos("plan", str(drill), "--env", str(env))
    assert done.returncode == ExitCode.INFRASTRUCTURE, done.stdout + done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    assert f"  {WRONG_PROTOCOL}" in done.stdout.splitlines(), done.stdout
    assert len(target.chat_requests()) == 1


def test_chaos_run_exits_4_with_the_refusal_on_one_line_and_sends_no_load(
    wrong_protocol_env: tuple[Path, Path], target: ProtocolTarget, tmp_path: Path
) -> None:
    drill, env = wrong_protocol_env
    runs = tmp_path / "runs"
    done = _chaos("run", str(drill), "--env", str(env), "--no-live", "--evidence-dir", str(runs))
    assert done.returncode == ExitCode.INFRASTRUCTURE, done.stdout + done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    assert f"error: preflight_failed: {WRONG_PROTOCOL}" in done.stderr.splitlines(), done.stderr
    assert [r.subject for r in target.chat_requests()] == ["canary"]  # no load, no prober
    assert not runs.exists() or not any(runs.iterdir())


# `chaos run` prints the target's own error message as it was sent: `[stream_options]` (AWS
# Bedrock's "extraneous key [...] is not permitted") is text, not a rich style tag.
@pytest.mark.parametrize("message", [
    "Malformed input request: #: extraneous key [stream_options] is not permitted",
    "no upstream for [/v1/chat/completions]",
])
def test_chaos_run_prints_the_targets_message_as_it_was_sent(
    message: str, target: ProtocolTarget, base_url: str, toxiproxy: ToxiproxyServer,
    tmp_path: Path
) -> None:
    target.behaviour = "http_503"
    target.error_message = message
    drill = tmp_path / "drill.yaml"
    drill.write_text(DRILL, encoding="utf-8")
    env = env_for("openai", tmp_path, toxiproxy, base_url)
    done = _chaos("run", str(drill), "--env", str(env), "--no-live",
                  "--evidence-dir", str(tmp_path / "runs"))
    assert "Traceback" not in done.stderr, done.stderr
    assert done.returncode == ExitCode.INFRASTRUCTURE, done.stderr
    assert f'target answered 503 server_error "{message}"' in done.stderr, done.stderr
