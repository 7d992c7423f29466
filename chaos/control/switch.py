"""Kill switches named in an environment (`guardrails.kill_switch`): a file that exists, or a
URL answering 200 with "abort" in its body or the JSON `{"abort": true}`."""

from __future__ import annotations

import json
from pathlib import Path

import httpx

from chaos.errors import ChaosError, ExitCode
from chaos.spec import Environment, expand_env

URL_TIMEOUT_S = 2.0


class KillSwitchSet(ChaosError):
    """The environment's kill switch is set: no drill starts until it is cleared."""

    exit_code = ExitCode.INFRASTRUCTURE

    def __init__(self, env_name: str, reason: str) -> None:
        self.env_name, self.reason = env_name, reason
        super().__init__(f"environment {env_name}: {reason}; no drill starts until it is cleared "
                         f"(`chaos abort --env ... --clear` removes a file switch)")


def switch_file(env: Environment) -> Path | None:
    switch = env.guardrails.kill_switch
    return Path(expand_env(switch.file)).expanduser() if switch and switch.file else None


def _url_says_abort(status: int, body: str) -> bool:
    if status != 200:
        return False
    try:
        doc = json.loads(body)
    except ValueError:
        return "abort" in body.lower()
    if isinstance(doc, dict):
        return doc.get("abort") is True
    return "abort" in body.lower()


async def kill_switch_reason(env: Environment, client: httpx.AsyncClient | None = None) -> str:
    """Why the switch is set ("" when it is not). A URL that does not answer in time counts as
    not set: a flaky status page must not stop drills, and says so in no verdict."""
    switch = env.guardrails.kill_switch
    if switch is None:
        return ""
    path = switch_file(env)
    if path is not None:
        if not path.exists():
            return ""
        try:
            text = path.read_text(encoding="utf-8", errors="replace").strip()
        except OSError:
            text = ""
        return f"kill switch file {path} is set" + (f" ({text.splitlines()[0][:200]})" if text else "")
    assert switch.url is not None
    url = expand_env(switch.url)
    try:
        if client is None:
            async with httpx.AsyncClient(timeout=URL_TIMEOUT_S) as own:
                response = await own.get(url)
        else:
            response = await client.get(url, timeout=URL_TIMEOUT_S)
    except httpx.HTTPError:
        return ""
    if _url_says_abort(response.status_code, response.text):
        return f"kill switch {switch.url} is set"
    return ""


async def check_kill_switch(env: Environment) -> None:
    """Raise KillSwitchSet when the environment's switch is set."""
    reason = await kill_switch_reason(env)
    if reason:
        raise KillSwitchSet(env.name, reason)
