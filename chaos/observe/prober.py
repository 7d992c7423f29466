"""`AvailabilityProber`: once per second, GET health and one small streamed canary chat request;
a second is available only when both succeed (DESIGN section 4). Response content is never kept:
only the status, a short JSON error code, the serving region and the first-token time."""

from __future__ import annotations

import json
import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass

import anyio
import httpx

from chaos.recording import SSE_ERROR_EVENTS, ProbeSecond

_CODE = re.compile(r"^[a-z][a-z0-9_]{0,40}$")
CANARY_PAYLOAD = {"message": "hi"}
_STREAM_KEEP = 4096  # bytes of the canary stream kept to find that event and its code


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
                 interval_s: float = 1.0, timeout_s: float = 0.9,
                 clock: Callable[[], float] = time.time) -> None:
        self.base_url = base_url.rstrip("/")
        self.emit = emit
        self.health_path = health_path
        self.chat_path = chat_path
        self.token = token
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
                             chat_first_token_ms=first_ms)
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
                r = await client.get(self.base_url + self.health_path)
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
        headers = {"accept": "text/event-stream"}
        if self.token:
            headers["authorization"] = f"Bearer {self.token}"
        started = time.monotonic()
        first_ms: float | None = None
        region: str | None = None
        try:
            with anyio.fail_after(self.timeout_s):
                async with client.stream("POST", self.base_url + self.chat_path,
                                         json=CANARY_PAYLOAD, headers=headers) as r:
                    region = r.headers.get(self.region_header)
                    if not 200 <= r.status_code < 300:
                        body = await r.aread()
                        code = _error_code(body)
                        out.append((False, f"chat {r.status_code}" + (f" {code}" if code else ""),
                                    region, None))
                        return
                    seen, broken = b"\n", False
                    async for chunk in r.aiter_bytes():
                        if chunk and first_ms is None:
                            first_ms = (time.monotonic() - started) * 1000.0
                        seen = (seen + chunk)[-_STREAM_KEEP:]
                        broken = broken or any(m in seen for m in SSE_ERROR_EVENTS)
            if broken:  # the 200 stream broke mid-way (`event: error`): no answer was served
                at = max(seen.rfind(m) for m in SSE_ERROR_EVENTS)
                data = seen[at:].partition(b"\ndata:")[2].partition(b"\n")[0] if at >= 0 else b""
                code = _error_code(data)
                out.append((False, "chat stream error" + (f" {code}" if code else ""), region,
                            first_ms))
                return
        except TimeoutError:
            out.append((False, "chat timeout", region, first_ms))
            return
        except httpx.HTTPError as exc:
            out.append((False, f"chat {type(exc).__name__}", region, first_ms))
            return
        if first_ms is None:
            out.append((False, "chat empty stream", region, None))
            return
        out.append((True, None, region, first_ms))
