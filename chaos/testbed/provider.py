"""The provider simulator: an OpenAI-style streaming completion endpoint with an HTTP fault switch."""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import AsyncIterator
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge

from chaos.testbed.asgi import (
    SSE_HEADERS,
    BodyTooLarge,
    Component,
    Receive,
    Request,
    Scope,
    Send,
    not_found,
    read_body,
    send_error,
    send_json,
    send_metrics,
    send_stream,
)
from chaos.testbed.config import ProviderSettings

_WORDS = ("alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel")


@dataclass(frozen=True)
class HttpFault:
    """An HTTP-level failure the provider answers with, for a `rate` fraction of requests."""

    status: int
    retry_after_s: float | None
    rate: float

    @classmethod
    def parse(cls, raw: object) -> HttpFault:
        if not isinstance(raw, dict):
            raise ValueError("fault must be a JSON object")
        status = raw.get("status")
        if not isinstance(status, int) or not 400 <= status <= 599:
            raise ValueError("fault.status must be an HTTP error status (400..599)")
        retry = raw.get("retry_after_s")
        if retry is not None and (not isinstance(retry, int | float) or retry < 0):
            raise ValueError("fault.retry_after_s must be a number >= 0")
        rate = raw.get("rate", 1.0)
        if not isinstance(rate, int | float) or not 0.0 <= rate <= 1.0:
            raise ValueError("fault.rate must be a number in [0, 1]")
        return cls(status, None if retry is None else float(retry), float(rate))


class ProviderApp(Component):
    """ASGI app of one provider route (`primary` or `fallback`)."""

    def __init__(self, route: str, settings: ProviderSettings) -> None:
        self.route = route
        self.settings = settings
        self.fault: HttpFault | None = None
        self._served = 0
        self._fault_rng = random.Random(settings.seed)
        # One pre-encoded event per word: the stream costs no JSON encoding per token.
        self._events = tuple(
            b"data: " + json.dumps({"choices": [{"delta": {"content": f"{w} "}}],
                                    "route": route}).encode() + b"\n\n" for w in _WORDS)
        self.registry = CollectorRegistry()
        self._requests = Counter("provider_requests_total", "Completion requests by HTTP status",
                                 ["route", "status"], registry=self.registry)
        self._active = Gauge("provider_active_streams", "Streams being generated now", ["route"],
                             registry=self.registry)
        self._fault_gauge = Gauge("provider_http_fault_status", "Status of the HTTP fault switch (0 off)",
                                  ["route"], registry=self.registry)

    async def handle(self, req: Request, scope: Scope, receive: Receive, send: Send) -> None:
        if req.path == "/v1/chat/completions" and req.method == "POST":
            await self._complete(receive, send)
        elif req.path == "/admin/fault":
            await self._admin_fault(req, receive, send)
        elif req.path == "/health":
            await send_json(send, 200, {"status": "ok", "route": self.route})
        elif req.path == "/metrics":
            await send_metrics(send, self.registry)
        else:
            await not_found(send)

    async def _complete(self, receive: Receive, send: Send) -> None:
        try:
            await read_body(receive)
        except BodyTooLarge:
            await send_error(send, 413, "payload_too_large")
            return
        fault = self.fault
        if fault is not None and self._fault_rng.random() < fault.rate:
            self._requests.labels(self.route, str(fault.status)).inc()
            await send_error(send, fault.status, "injected_fault", retry_after_s=fault.retry_after_s)
            return
        self._served += 1
        rng = random.Random(self.settings.seed * 1_000_003 + self._served)
        self._requests.labels(self.route, "200").inc()
        self._active.labels(self.route).inc()
        try:
            await send_stream(send, receive, 200, SSE_HEADERS, self._tokens(rng))
        finally:
            self._active.labels(self.route).dec()

    async def _tokens(self, rng: random.Random) -> AsyncIterator[bytes]:
        s = self.settings

        def pause_s(base_ms: float) -> float:
            return max(0.0, base_ms + rng.uniform(-s.jitter_ms, s.jitter_ms)) / 1000.0

        # asyncio.sleep, not anyio's: the testbed always runs on uvloop, and anyio's backend
        # lookup per call was a tenth of the provider's CPU per token.
        await asyncio.sleep(pause_s(s.first_token_delay_ms))
        events = self._events
        for i in range(s.tokens):
            if i:
                await asyncio.sleep(pause_s(s.token_interval_ms))
            yield events[rng.randrange(len(events))]
        yield b"data: [DONE]\n\n"

    async def _admin_fault(self, req: Request, receive: Receive, send: Send) -> None:
        if req.method == "POST":
            try:
                self.fault = HttpFault.parse(json.loads(await read_body(receive) or b"null"))
            except (ValueError, BodyTooLarge) as exc:
                await send_error(send, 400, "bad_request", detail=str(exc))
                return
            self._fault_gauge.labels(self.route).set(self.fault.status)
        elif req.method == "DELETE":
            self.fault = None
            self._fault_gauge.labels(self.route).set(0)
        elif req.method != "GET":
            await send_error(send, 405, "method_not_allowed")
            return
        f = self.fault
        body = None if f is None else {"status": f.status, "retry_after_s": f.retry_after_s, "rate": f.rate}
        await send_json(send, 200, {"route": self.route, "fault": body})
