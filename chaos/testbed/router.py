"""The global router: health-checks both regions, fails over and back, streams /api/* and /v1/*
through."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import anyio
import httpx
from prometheus_client import CollectorRegistry, Counter, Gauge

from chaos.testbed.asgi import (
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
    send_json_error,
    send_metrics,
    send_stream,
)
from chaos.testbed.config import REGIONS, TestbedConfig
from chaos.testbed.dialects import Dialect, dialect_for
from chaos.testbed.gateway import subject_of
from chaos.testbed.requestlog import RequestLog
from chaos.testbed.upstream import UpstreamError, UpstreamResponse, request

_FORWARD_REQUEST = ("authorization", "content-type", "accept", "x-request-id", "user-agent")
_FORWARD_RESPONSE = ("content-type", "retry-after", "x-request-id", "x-provider-route",
                     "cache-control")


@dataclass
class RegionHealth:
    consecutive_failures: int = 0
    consecutive_successes: int = 0
    last_ok: bool = True  # optimistic until the first check (the launcher waits for health)
    drained: bool = False


class RouterApp(Component):
    """ASGI app of the global router."""

    def __init__(self, config: TestbedConfig, log_path: Path) -> None:
        self.settings = config.router
        self.home: str = config.router.home_region
        self.active: str = self.home
        self.regions = {r: RegionHealth() for r in REGIONS}
        self.urls = {r: f"http://{config.upstream_host}:{config.proxies[f'router-{r}']}" for r in REGIONS}
        self.upstream_host = config.upstream_host
        self.ports = {r: config.proxies[f"router-{r}"] for r in REGIONS}
        self.log = RequestLog(log_path, component="router")
        self.registry = CollectorRegistry()
        reg = self.registry
        self._active_g = Gauge("router_active_region", "1 for the region receiving traffic",
                               ["region"], registry=reg)
        self._healthy_g = Gauge("router_region_healthy", "1 when the last health check passed",
                                ["region"], registry=reg)
        self._failovers = Counter("router_failovers", "Changes of the active region", registry=reg)
        self._switches = Counter("router_region_switches", "Active-region changes by cause",
                                 ["from_region", "to_region", "reason"], registry=reg)
        self._requests = Counter("chat_requests_total", "Requests forwarded, by outcome code",
                                 ["region", "code"], registry=reg)
        self._retries = Counter("router_retries", "Requests re-sent to the other region after "
                                "the first got no response head", ["from_region", "to_region"],
                                registry=reg)
        for r in REGIONS:
            self._healthy_g.labels(r).set(1)
            self._retries.labels(r, self._other(r))
        self._set_active_gauge()
        self.health_client: httpx.AsyncClient | None = None

    async def _startup(self) -> None:
        self.health_client = httpx.AsyncClient(timeout=self.settings.health_timeout_s)

    async def _shutdown(self) -> None:
        if self.health_client is not None:
            await self.health_client.aclose()
        self.log.close()

    async def _background(self) -> None:
        await self._check_forever()

    async def handle(self, req: Request, scope: Scope, receive: Receive, send: Send) -> None:
        if (req.path.startswith(("/api/", "/v1/"))
                or req.path in ("/db/health", "/auth/whoami")):
            await self._forward(scope, req, receive, send)
        elif req.path.startswith("/admin/regions/") and req.method == "POST":
            await self._admin(req, send)
        elif req.path == "/health":
            # Healthy while some region can serve: requests that find the active region
            # unreachable are re-sent to the other one before the health checks fail over.
            ok = any(h.last_ok and not h.drained for h in self.regions.values())
            await send_json(send, 200 if ok else 503, self._status_body(),
                            [(b"x-served-by-region", self.active.encode())])
        elif req.path == "/admin/regions":
            await send_json(send, 200, self._status_body())
        elif req.path == "/metrics":
            await send_metrics(send, self.registry)
        else:
            await not_found(send)

    def _status_body(self) -> dict[str, object]:
        return {"active_region": self.active, "home_region": self.home,
                "failback": self.settings.failback,
                "regions": {r: {"healthy": h.last_ok, "drained": h.drained,
                                "consecutive_failures": h.consecutive_failures,
                                "consecutive_successes": h.consecutive_successes}
                            for r, h in self.regions.items()}}

    # -- region selection ------------------------------------------------------------------
    def _other(self, region: str) -> str:
        return next(r for r in REGIONS if r != region)

    def _switch(self, to: str, reason: str) -> None:
        if to == self.active:
            return
        self._switches.labels(self.active, to, reason).inc()
        self._failovers.inc()
        self.active = to
        self._set_active_gauge()

    def _set_active_gauge(self) -> None:
        for r in REGIONS:
            self._active_g.labels(r).set(1 if r == self.active else 0)

    async def _check_forever(self) -> None:
        while True:
            t0 = time.monotonic()
            if self.health_client is not None:
                async with anyio.create_task_group() as tg:
                    for r in REGIONS:
                        tg.start_soon(self._check, r)
                self._decide()
            await anyio.sleep(max(0.0, self.settings.health_interval_s - (time.monotonic() - t0)))

    async def _check(self, region: str) -> None:
        assert self.health_client is not None
        try:
            ok = (await self.health_client.get(f"{self.urls[region]}/health")).status_code == 200
        except httpx.HTTPError:
            ok = False
        h = self.regions[region]
        h.last_ok = ok
        h.consecutive_failures = 0 if ok else h.consecutive_failures + 1
        h.consecutive_successes = h.consecutive_successes + 1 if ok else 0
        self._healthy_g.labels(region).set(int(ok))

    def _decide(self) -> None:
        s = self.settings
        active, other = self.regions[self.active], self._other(self.active)
        if active.consecutive_failures >= s.failover_after:
            alt = self.regions[other]
            if alt.last_ok and not alt.drained:
                self._switch(other, "health")
        home = self.regions[self.home]
        if (self.active != self.home and s.failback == "auto" and not home.drained
                and home.consecutive_successes >= s.failback_after):
            self._switch(self.home, "failback")

    async def _admin(self, req: Request, send: Send) -> None:
        parts = req.path.strip("/").split("/")  # admin/regions/<region>/<action>
        if len(parts) != 4 or parts[2] not in REGIONS or parts[3] not in ("drain", "undrain", "activate"):
            await send_error(send, 404, "not_found", detail=f"unknown region action {req.path}")
            return
        region, action = parts[2], parts[3]
        h = self.regions[region]
        if action == "drain":
            h.drained = True
            if self.active == region and not self.regions[self._other(region)].drained:
                self._switch(self._other(region), "drain")
        elif action == "undrain":
            h.drained = False
            if region == self.home and self.active != region and h.last_ok:
                self._switch(region, "undrain")
        else:
            if h.drained:
                await send_error(send, 409, "region_drained", region=region)
                return
            self._switch(region, "manual")
        await send_json(send, 200, self._status_body())

    # -- forwarding ------------------------------------------------------------------------
    async def _forward(self, scope: Scope, req: Request, receive: Receive, send: Send) -> None:
        t0 = time.monotonic()
        region = self.active
        request_id = req.headers.get("x-request-id") or uuid.uuid4().hex
        served = [(b"x-served-by-region", region.encode())]
        subject = subject_of(req.headers.get("authorization"))
        dialect = dialect_for(req.path)
        try:
            body = await read_body(receive, 1 << 20)
        except BodyTooLarge:
            await send_json_error(send, 413, dialect.error_body(413, "payload_too_large"),
                                  headers=served)
            self._finish(request_id, subject, region, 413, "payload_too_large", t0)
            return
        headers = {k: v for k, v in req.headers.items() if k in _FORWARD_REQUEST}
        headers["x-request-id"] = request_id
        query = scope.get("query_string", b"").decode("latin-1")
        target = req.path + (f"?{query}" if query else "")
        resp: UpstreamResponse | None = None
        try:
            try:
                resp = await self._send(region, req.method, target, headers, body)
            except UpstreamError:
                # No response head from the active region (refused, reset, timed out): no
                # stream can have started, so the request is re-sent once to the other region
                # when that one is healthy, as a global load balancer does while its health
                # checks have not yet failed the region over.
                other = self._other(region)
                if self.regions[other].last_ok and not self.regions[other].drained:
                    self._retries.labels(region, other).inc()
                    region, served = other, [(b"x-served-by-region", other.encode())]
                    try:
                        resp = await self._send(region, req.method, target, headers, body)
                    except UpstreamError:
                        resp = None
            if resp is None:
                await send_json_error(send, 503, dialect.error_body(503, "gateway_unhealthy",
                                                                    region=region),
                                      retry_after_s=1.0, headers=served)
                self._finish(request_id, subject, region, 503, "gateway_unhealthy", t0)
                return
            out = served + [(k.encode(), resp.headers[k].encode())
                            for k in _FORWARD_RESPONSE if k in resp.headers]
            if resp.status >= 300:
                try:
                    payload = await resp.read()
                except UpstreamError:
                    payload = b""
                await send({"type": "http.response.start", "status": resp.status,
                            "headers": [*out, (b"content-length", str(len(payload)).encode())]})
                await send({"type": "http.response.body", "body": payload, "more_body": False})
                self._finish(request_id, subject, region, resp.status,
                             _error_code(payload, resp.status), t0)
                return
            outcome = {"code": "ok"}
            done = await send_stream(send, receive, resp.status, out,
                                     _relay(resp, dialect, outcome))
            self._finish(request_id, subject, region, resp.status,
                         outcome["code"] if done else "client_disconnected", t0)
        finally:
            if resp is not None:
                resp.close()

    async def _send(self, region: str, method: str, target: str, headers: dict[str, str],
                    body: bytes) -> UpstreamResponse:
        return await request(self.upstream_host, self.ports[region], method, target, headers,
                             body, connect_timeout_s=2.0, read_timeout_s=30.0)

    def _finish(self, request_id: str, subject: str | None, region: str, status: int, code: str,
                t0: float) -> None:
        self._requests.labels(region, code).inc()
        self.log.write(request_id=request_id, subject=subject, status=status, code=code,
                       latency_ms=(time.monotonic() - t0) * 1000.0, waf_decision="pass",
                       plan_decision="pass", region=region)


async def _relay(resp: UpstreamResponse, dialect: Dialect,
                 outcome: dict[str, str]) -> AsyncIterator[bytes]:
    """The region's bytes as they come; losing the region mid-stream ends the stream with the
    dialect's in-band error (`gateway_unhealthy`)."""
    try:
        async for chunk in resp.chunks():
            yield chunk
    except UpstreamError:
        outcome["code"] = "stream_error"
        yield dialect.error_event("gateway_unhealthy", "gateway connection lost")


def _error_code(payload: bytes, status: int) -> str:
    """The testbed code of an error body: `{"error": code}` or OpenAI's `{"error": {"code"}}`."""
    try:
        code = json.loads(payload).get("error")
        if isinstance(code, dict):
            code = code.get("code")
    except (ValueError, AttributeError):
        code = None
    return code if isinstance(code, str) and code.replace("_", "").isalnum() else f"http_{status}"
