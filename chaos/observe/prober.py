"""`AvailabilityProber`: once per second, GET health and one small streamed canary chat request
through the target's protocol profile; a second is available only when the health check
succeeds and the canary's stream is complete (DESIGN section 4). Response content is never
kept: only the status, the outcome class, a short error code, the serving region and the
first-token time."""

from __future__ import annotations

import json
import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass

import anyio
import httpx

from chaos.observe.canary import CanaryResult, send_canary
from chaos.protocols import CustomProfile, Profile
from chaos.recording import ProbeSecond
from chaos.spec.urls import join_url

_CODE = re.compile(r"^[a-z][a-z0-9_]{0,40}$")


@dataclass(frozen=True, slots=True)
class ProberStatistics:
    probes: int
    available: int
    unavailable: int
    gaps: int  # seconds the prober itself missed (overran or could not run)


def _error_code(body: bytes) -> str | None:
    """A short error code from a JSON error body ({"error": "x"} or {"code": "x"}), else None."""
    try:
        data = json.loads(body[:2048])
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(data, dict):
        return None
    for key in ("code", "error"):
        value = data.get(key)
        if isinstance(value, dict):
            value = value.get("code")
        if isinstance(value, str) and _CODE.match(value):
            return value
    return None


class AvailabilityProber:
    def __init__(self, base_url: str, emit: Callable[[ProbeSecond], None], *,
                 health_path: str = "/health", chat_path: str = "/api/chat",
                 token: str | None = None, region_header: str = "x-region",
                 profile: Profile | None = None, headers: tuple[tuple[str, str], ...] = (),
                 interval_s: float = 1.0, timeout_s: float = 0.9,
                 clock: Callable[[], float] = time.time) -> None:
        self.base_url = base_url
        self.emit = emit
        self.health_path = health_path
        self.chat_path = chat_path
        self.token = token
        self.profile: Profile = profile if profile is not None else CustomProfile()
        self.headers = headers
        self.region_header = region_header
        self.interval_s = interval_s
        self.timeout_s = timeout_s
        self.clock = clock
        self._probes = self._available = self._unavailable = self._gaps = 0

    def statistics(self) -> ProberStatistics:
        return ProberStatistics(self._probes, self._available, self._unavailable, self._gaps)

    async def run(self) -> None:
        """Probe until cancelled: one probe starts every `interval_s` whether or not the previous
        one has finished (a streamed canary can take longer than the interval), each bounded by
        `timeout_s`. A tick whose probe cannot start because too many are still running (the
        target hangs past the timeout, or the prober is starved) is emitted as a gap."""
        max_running = max(1, math.ceil(self.timeout_s / self.interval_s) + 1)
        running = 0

        async def one(client: httpx.AsyncClient) -> None:
            nonlocal running
            try:
                await self.probe_once(client)
            finally:
                running -= 1

        async with httpx.AsyncClient(timeout=self.timeout_s) as client, anyio.create_task_group() as tg:
            start_mono, start_wall = time.monotonic(), self.clock()
            tick = 0
            while True:
                if running < max_running:
                    running += 1
                    tg.start_soon(one, client)
                else:
                    self._gaps += 1
                    self.emit(ProbeSecond(start_wall + tick * self.interval_s, None, None,
                                          error="prober overran"))
                elapsed = time.monotonic() - start_mono
                next_tick = max(tick + 1, math.floor(elapsed / self.interval_s) + 1)
                for missed in range(tick + 1, next_tick):  # the prober's own loop fell behind
                    self._gaps += 1
                    self.emit(ProbeSecond(start_wall + missed * self.interval_s, None, None,
                                          error="prober overran"))
                tick = next_tick
                await anyio.sleep(max(0.0, start_mono + tick * self.interval_s - time.monotonic()))

    async def probe_once(self, client: httpx.AsyncClient) -> ProbeSecond:
        t = self.clock()
        health: list[tuple[bool, str | None]] = []
        chat: list[tuple[bool, str | None, str | None, float | None]] = []
        async with anyio.create_task_group() as tg:
            tg.start_soon(self._health, client, health)
            tg.start_soon(self._chat, client, chat)
        health_ok, health_err = health[0]
        chat_ok, chat_err, region, first_ms = chat[0]
        error = "; ".join(e for e in (health_err, chat_err) if e) or None
        result = ProbeSecond(t, health_ok, chat_ok, error=error, region=region,
                             chat_first_token_ms=first_ms, ended_at=self.clock())
        self._probes += 1
        if health_ok and chat_ok:
            self._available += 1
        else:
            self._unavailable += 1
        self.emit(result)
        return result

    async def _health(self, client: httpx.AsyncClient, out: list[tuple[bool, str | None]]) -> None:
        try:
            with anyio.fail_after(self.timeout_s):
                r = await client.get(join_url(self.base_url, self.health_path), headers=dict(self.headers))
        except TimeoutError:
            out.append((False, "health timeout"))
            return
        except httpx.HTTPError as exc:
            out.append((False, f"health {type(exc).__name__}"))
            return
        if 200 <= r.status_code < 300:
            out.append((True, None))
        else:
            code = _error_code(r.content)
            out.append((False, f"health {r.status_code}" + (f" {code}" if code else "")))

    async def _chat(self, client: httpx.AsyncClient,
                    out: list[tuple[bool, str | None, str | None, float | None]]) -> None:
        result = await send_canary(
            client, join_url(self.base_url, self.chat_path), self.profile, token=self.token,
            headers=self.headers, region_header=self.region_header, timeout_s=self.timeout_s,
        )
        # Only a complete stream is an available second: an error status, an in-band error,
        # a stream cut short, stalled or unreadable all served no answer.
        out.append((result.ok, None if result.ok else _short(result), result.region,
                    result.first_token_ms if result.ok else None))


def _short(result: CanaryResult) -> str:
    """The canary's failure for the probe record: class and code, never the message."""
    if result.status is None:
        return f"chat {result.failure or 'transport'}"
    parts = [f"chat {result.status}"]
    if result.cls not in ("4xx", "5xx", "429"):
        parts.append(f"stream {result.cls}" if result.cls != "2xx" else "")
    if result.code:
        parts.append(result.code)
    return " ".join(p for p in parts if p)
