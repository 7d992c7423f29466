"""The provider simulator: an OpenAI-style streaming completion endpoint with a fault switch
(HTTP error answers, and streams that break, end early or stall mid-answer)."""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import AsyncIterator

from prometheus_client import CollectorRegistry, Counter, Gauge

from chaos.faultproxy.switch import STREAM_KINDS, Fault, HttpFault, StreamFault, parse_fault
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


# A stalled stream sends nothing more until its client goes away, or this long at most.
STALL_BOUND_S = 600.0


def error_event(fault: StreamFault) -> bytes:
    """The in-band error a `stream: error` fault ends the answer with (OpenAI's shape)."""
    body = {"error": {"message": "Overloaded", "type": fault.code, "code": fault.code}}
    return b"data: " + json.dumps(body).encode() + b"\n\n"


class ProviderApp(Component):
    """ASGI app of one provider route (`primary` or `fallback`)."""

    def __init__(self, route: str, settings: ProviderSettings) -> None:
        self.route = route
        self.settings = settings
        self.fault: Fault | None = None
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
        self._stream_fault_gauge = Gauge("provider_stream_fault", "1 for the stream fault switched on",
                                         ["route", "kind"], registry=self.registry)
        self._stream_faults = Counter("provider_stream_faults_total", "Streams broken on purpose",
                                      ["route", "kind"], registry=self.registry)
        self._fault_gauge.labels(route).set(0)
        for kind in STREAM_KINDS:
            self._stream_fault_gauge.labels(route, kind).set(0)
            self._stream_faults.labels(route, kind)  # exposed at 0 from the start

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
        if fault is not None and not self._fault_rng.random() < fault.rate:
            fault = None
        if isinstance(fault, HttpFault):
            self._requests.labels(self.route, str(fault.status)).inc()
            await send_error(send, fault.status, "injected_fault", retry_after_s=fault.retry_after_s)
            return
        if fault is not None:
            self._stream_faults.labels(self.route, fault.stream).inc()
        self._served += 1
        rng = random.Random(self.settings.seed * 1_000_003 + self._served)
        self._requests.labels(self.route, "200").inc()
        self._active.labels(self.route).inc()
        try:
            await send_stream(send, receive, 200, SSE_HEADERS, self._tokens(rng, fault))
        finally:
            self._active.labels(self.route).dec()

    async def _tokens(self, rng: random.Random, fault: StreamFault | None) -> AsyncIterator[bytes]:
        s = self.settings

        def pause_s(base_ms: float) -> float:
            return max(0.0, base_ms + rng.uniform(-s.jitter_ms, s.jitter_ms)) / 1000.0

        # asyncio.sleep, not anyio's: the testbed always runs on uvloop, and anyio's backend
        # lookup per call was a tenth of the provider's CPU per token.
        await asyncio.sleep(pause_s(s.first_token_delay_ms))
        events = self._events
        tokens = s.tokens if fault is None else min(s.tokens, fault.after_chunks)
        for i in range(tokens):
            if i:
                await asyncio.sleep(pause_s(s.token_interval_ms))
            yield events[rng.randrange(len(events))]
        if fault is None:
            yield b"data: [DONE]\n\n"
        elif fault.stream == "error":
            yield error_event(fault)
        elif fault.stream == "stall":
            # send_stream cancels this on the client's disconnect; the bound ends it otherwise
            # (then as a truncated stream).
            await asyncio.sleep(STALL_BOUND_S)

    async def _admin_fault(self, req: Request, receive: Receive, send: Send) -> None:
        if req.method == "POST":
            try:
                self._set_fault(parse_fault(json.loads(await read_body(receive) or b"null")))
            except (ValueError, BodyTooLarge) as exc:
                await send_error(send, 400, "bad_request", detail=str(exc))
                return
        elif req.method == "DELETE":
            self._set_fault(None)
        elif req.method != "GET":
            await send_error(send, 405, "method_not_allowed")
            return
        body = None if self.fault is None else self.fault.to_json()
        await send_json(send, 200, {"route": self.route, "fault": body})

    def _set_fault(self, fault: Fault | None) -> None:
        self.fault = fault
        self._fault_gauge.labels(self.route).set(fault.status if isinstance(fault, HttpFault) else 0)
        for kind in STREAM_KINDS:
            on = isinstance(fault, StreamFault) and fault.stream == kind
            self._stream_fault_gauge.labels(self.route, kind).set(int(on))
