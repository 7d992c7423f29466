"""The regional gateway: auth, WAF, Redis admission, provider slots, circuit breakers, streaming
(the testbed's `/api/chat` and the OpenAI-compatible `/v1/chat/completions`)."""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import anyio
from prometheus_client import CollectorRegistry, Counter, Gauge

from chaos.testbed.admission import Admission, Decision, RedisUnavailable
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
    send_json_error,
    send_metrics,
    send_stream,
)
from chaos.testbed.circuit import CircuitBreaker, CircuitState
from chaos.testbed.config import ROUTES, TestbedConfig
from chaos.testbed.dialects import (
    OPENAI,
    TESTBED,
    BadChatRequest,
    ChatRequest,
    ChatStream,
    Dialect,
)
from chaos.testbed.requestlog import RequestLog, hash_subject
from chaos.testbed.slots import ProviderSlots, QueueTimeout
from chaos.testbed.upstream import UpstreamError, UpstreamResponse, request

_TOKEN = re.compile(r"Bearer tb-([A-Za-z0-9_.-]{1,64})")
_CODE = re.compile(r"[a-z][a-z0-9_]{0,40}")
_REDIS_PING_INTERVAL_S = 0.5
_CHAT_PATHS: dict[str, Dialect] = {"/api/chat": TESTBED, "/v1/chat/completions": OPENAI}
_DISCONNECTED = "upstream provider disconnected"
# The active health check: the smallest real completion (as LLM gateways check a deployment),
# through the same Toxiproxy link as the traffic; it passes on the first token, as a probe does.
_HEALTH_CHECK_BODY = json.dumps({"model": "testbed", "stream": True, "max_tokens": 1,
                                 "messages": [{"role": "user", "content": "ping"}]}).encode()
_HEALTH_CHECK_HEADERS = {"content-type": "application/json", "x-request-id": "health-check",
                         "user-agent": "chaos-testbed-gateway-health-check"}


def subject_of(authorization: str | None) -> str | None:
    """The subject of a valid `Bearer tb-<subject>` token, else None."""
    if authorization is None:
        return None
    m = _TOKEN.fullmatch(authorization.strip())
    return m.group(1) if m else None


class _ProviderFailed(Exception):
    """The provider's answer failed; `code` and `message` are what the client is told."""

    def __init__(self, reason: str, code: str = "provider_unavailable",
                 message: str = _DISCONNECTED) -> None:
        super().__init__(reason)
        self.code = code
        self.message = message


class _Truncated(_ProviderFailed):
    """The provider's HTTP message ended without `[DONE]`."""


class GatewayApp(Component):
    """ASGI app of one regional gateway (`us-east` or `us-west`)."""

    def __init__(self, region: str, config: TestbedConfig, log_path: Path) -> None:
        self.region = region
        self.config = config
        s = config.gateway
        self.settings = s
        self.admission = Admission(config.proxies[f"{region}-redis"], s, config.upstream_host)
        self.slots = ProviderSlots(s.provider_concurrency)
        self.upstream_host = config.upstream_host
        self.provider_ports = {r: config.proxies[f"{region}-{r}"] for r in ROUTES}
        self.log = RequestLog(log_path, component=f"gateway-{region}",
                              log_message_text=s.log_message_text)
        self.registry = CollectorRegistry()
        reg = self.registry
        self._requests = Counter("chat_requests_total", "Chat requests by outcome code",
                                 ["region", "code"], registry=reg)
        self._circuit = Gauge("provider_circuit_state", "0 closed, 1 open, 0.5 half-open",
                              ["region", "route"], registry=reg)
        self._transitions = Counter("provider_circuit_transitions_total",
                                    "Circuit state changes", ["region", "route", "to"], registry=reg)
        self._queue_age = Gauge("queue_oldest_job_age_seconds", "Age of the oldest request waiting "
                                "for a provider slot", ["region"], registry=reg)
        self._queue_depth = Gauge("queue_depth", "Requests waiting for a provider slot", ["region"],
                                  registry=reg)
        self._slots_in_use = Gauge("provider_slots_in_use", "Provider calls in progress", ["region"],
                                   registry=reg)
        self._redis_up = Gauge("redis_up", "1 when the last Redis call succeeded", ["region"],
                               registry=reg)
        self._served_by = Counter("provider_streams_total", "Streams served, by provider route",
                                  ["region", "route"], registry=reg)
        self._health_checks = Counter("provider_health_checks_total",
                                      "Active health checks of non-closed provider routes",
                                      ["region", "route", "result"], registry=reg)
        self.breakers = {
            r: CircuitBreaker(r, failure_threshold=s.circuit_failure_threshold,
                              open_duration_s=s.circuit_open_duration_s,
                              half_open_probes=s.circuit_half_open_probes,
                              on_change=self._on_circuit_change)
            for r in ROUTES
        }
        for r in ROUTES:
            self._circuit.labels(region, r).set(0)
            for st in CircuitState:
                self._transitions.labels(region, r, st.value)  # exposed at 0 from the start
            for result in ("success", "failure"):
                self._health_checks.labels(region, r, result)
        self._refresh_gauges()

    # -- lifecycle -------------------------------------------------------------------------
    async def _startup(self) -> None:
        await self.admission.ping()

    async def _shutdown(self) -> None:
        await self.admission.close()
        self.log.close()

    async def _background(self) -> None:
        async with anyio.create_task_group() as tg:
            tg.start_soon(self._ping_redis_forever)
            for route in ROUTES:
                tg.start_soon(self._check_route_forever, route)

    async def handle(self, req: Request, scope: Scope, receive: Receive, send: Send) -> None:
        dialect = _CHAT_PATHS.get(req.path)
        if dialect is not None:
            if req.method != "POST":
                await send_json_error(send, 405, dialect.error_body(405, "method_not_allowed"))
            else:
                await self._chat(req, receive, send, dialect)
        elif req.path == "/health":
            await self._health(send)
        elif req.path == "/db/health":
            ok = await self.admission.ping()
            self._redis_up.labels(self.region).set(int(ok))
            if ok:
                await send_json(send, 200, {"status": "ok", "redis": "ok"})
            else:
                await send_error(send, 503, "redis_unavailable")
        elif req.path == "/auth/whoami":
            subject = subject_of(req.headers.get("authorization"))
            if subject is None:
                await send_error(send, 401, "invalid_token")
            else:
                await send_json(send, 200, {"subject": subject, "hashed_subject": hash_subject(subject),
                                            "region": self.region})
        elif req.path == "/metrics":
            self._refresh_gauges()
            await send_metrics(send, self.registry)
        elif req.path == "/admin/circuits":
            await send_json(send, 200, {
                r: {"state": st.state.value, "consecutive_failures": st.consecutive_failures,
                    "transitions": st.transitions}
                for r, st in ((r, b.statistics()) for r, b in self.breakers.items())})
        elif req.path.startswith("/v1/"):
            await send_json_error(send, 404, OPENAI.error_body(404, "not_found"))
        else:
            await not_found(send)

    async def _ping_redis_forever(self) -> None:
        while True:
            self._redis_up.labels(self.region).set(int(await self.admission.ping()))
            await anyio.sleep(_REDIS_PING_INTERVAL_S)

    async def _check_route_forever(self, route: str) -> None:
        """Every `health_check_interval_s`, check the route while its circuit is past its open
        duration; a closed circuit is left to user traffic, a still-open one to its timer."""
        breaker = self.breakers[route]
        while True:
            await anyio.sleep(self.settings.health_check_interval_s)
            if breaker.allow_check():
                await self._check_route(route, breaker)

    async def _check_route(self, route: str, breaker: CircuitBreaker) -> None:
        """One active health check, reported to the breaker like a trial call."""
        try:
            ok = await self._provider_answers(route)
        except BaseException:
            breaker.release()
            raise
        if ok:
            breaker.record_success()
        else:
            breaker.record_failure()
        self._health_checks.labels(self.region, route, "success" if ok else "failure").inc()

    async def _provider_answers(self, route: str) -> bool:
        """Whether the route streams a first token within `health_check_timeout_s`."""
        timeout_s = self.settings.health_check_timeout_s
        resp: UpstreamResponse | None = None
        with anyio.move_on_after(timeout_s):
            try:
                resp = await request(self.upstream_host, self.provider_ports[route], "POST",
                                     "/v1/chat/completions", _HEALTH_CHECK_HEADERS,
                                     _HEALTH_CHECK_BODY, connect_timeout_s=timeout_s,
                                     read_timeout_s=timeout_s)
                if resp.status != 200:
                    return False
                return await _next_token(_sse_data(resp.chunks())) is not None
            except (UpstreamError, _ProviderFailed, ValueError):
                return False
            finally:
                if resp is not None:
                    resp.close()
        return False  # timed out

    def _refresh_gauges(self) -> None:
        st = self.slots.statistics()
        self._queue_age.labels(self.region).set(st.oldest_age_s)
        self._queue_depth.labels(self.region).set(st.queue_depth)
        self._slots_in_use.labels(self.region).set(st.in_use)
        self._redis_up.labels(self.region).set(int(self.admission.redis_up))
        for r, b in self.breakers.items():
            self._circuit.labels(self.region, r).set(b.state.metric_value)

    def _on_circuit_change(self, breaker: CircuitBreaker, old: CircuitState, new: CircuitState) -> None:
        self._circuit.labels(self.region, breaker.route).set(new.metric_value)
        self._transitions.labels(self.region, breaker.route, new.value).inc()

    async def _health(self, send: Send) -> None:
        """200 when this gateway can serve: Redis answers (or fail-open) and some circuit is
        closed. A half-open circuit lets only trial calls through, so it does not count."""
        redis_ok = await self.admission.ping()
        circuits = {r: b.state.value for r, b in self.breakers.items()}
        any_route = any(s == CircuitState.CLOSED.value for s in circuits.values())
        ok = (redis_ok or self.settings.fail_open) and any_route
        body = {"status": "ok" if ok else "unhealthy", "region": self.region,
                "redis": "ok" if redis_ok else "down", "circuits": circuits}
        await send_json(send, 200 if ok else 503, body)

    # -- chat ------------------------------------------------------------------------------
    async def _chat(self, req: Request, receive: Receive, send: Send, dialect: Dialect) -> None:
        t0 = time.monotonic()
        request_id = req.headers.get("x-request-id") or uuid.uuid4().hex
        subject = subject_of(req.headers.get("authorization"))
        message: str | None = None
        waf, plan = "not_evaluated", "not_evaluated"

        async def reject(status: int, code: str, retry_after_s: float | None = None,
                         body: object = None) -> None:
            await send_json_error(send, status,
                                  dialect.error_body(status, code) if body is None else body,
                                  retry_after_s=retry_after_s,
                                  headers=[(b"x-request-id", request_id.encode())])
            self._finish(request_id, subject, status, code, t0, waf, plan, message)

        ctype = req.headers.get("content-type", "").split(";")[0].strip().lower()
        if ctype != "application/json":
            await reject(415, "unsupported_media_type")
            return
        if subject is None:
            await reject(401, "invalid_token")
            return
        try:
            body = json.loads(await read_body(receive, 64 * 1024))
        except (ValueError, BodyTooLarge):
            body = None
        try:
            chat = dialect.parse(body)
        except BadChatRequest as exc:
            await reject(400, "bad_request", body=dialect.bad_request_body(exc))
            return
        message = chat.message
        waf = "block" if len(message) > self.settings.max_message_chars else "allow"
        if waf == "block":
            await reject(403, "waf_blocked")
            return
        try:
            decision = await self.admission.admit(subject, request_id)
        except RedisUnavailable:
            plan = "redis_unavailable"
            await reject(503, "redis_unavailable")
            return
        plan = decision.plan
        if not decision.admitted:
            await reject(429, decision.plan, decision.retry_after_s)
            return
        await self._serve(receive, send, dialect, chat, request_id, subject, decision, t0, waf)

    async def _serve(self, receive: Receive, send: Send, dialect: Dialect, chat: ChatRequest,
                     request_id: str, subject: str, decision: Decision, t0: float, waf: str) -> None:
        plan, message = decision.plan, chat.message
        slot = False
        resp: UpstreamResponse | None = None
        try:
            try:
                await self.slots.acquire(self.settings.queue_timeout_s)
                slot = True
            except QueueTimeout:
                await send_json_error(send, 503, dialect.error_body(503, "queue_timeout"),
                                      retry_after_s=1.0)
                self._finish(request_id, subject, 503, "queue_timeout", t0, waf, plan, message)
                return
            opened = await self._open_provider(message, request_id)
            if opened is None:
                await send_json_error(send, 503, dialect.error_body(503, "provider_unavailable"),
                                      retry_after_s=1.0)
                self._finish(request_id, subject, 503, "provider_unavailable", t0, waf, plan, message)
                return
            route, resp, first, lines = opened
            outcome = {"code": "ok"}
            headers = [*SSE_HEADERS, (b"x-request-id", request_id.encode()),
                       (b"x-provider-route", route.encode())]
            relay = self._relay(route, dialect, dialect.stream(chat), chat.max_tokens, first,
                                lines, outcome)
            done = await send_stream(send, receive, 200, headers, relay)
            code = outcome.pop("code") if done else "client_disconnected"
            self._served_by.labels(self.region, route).inc()
            self._finish(request_id, subject, 200, code, t0, waf, plan, message, route=route,
                         **(outcome if done else {}))
        finally:
            with anyio.CancelScope(shield=True):
                if resp is not None:
                    resp.close()
                if slot:
                    self.slots.release()
                if decision.holds_slot:
                    await self.admission.release(request_id)

    async def _open_provider(
        self, message: str, request_id: str
    ) -> tuple[str, UpstreamResponse, str, AsyncIterator[str]] | None:
        """Try the routes in order through their circuits; the first that yields a first token wins."""
        s = self.settings
        payload = json.dumps({"model": "testbed", "stream": True,
                              "messages": [{"role": "user", "content": message}]}).encode()
        for route in ROUTES:
            breaker = self.breakers[route]
            if not breaker.allow():
                continue
            resp = None
            try:
                resp = await request(
                    self.upstream_host, self.provider_ports[route], "POST", "/v1/chat/completions",
                    {"content-type": "application/json", "x-request-id": request_id}, payload,
                    connect_timeout_s=s.provider_connect_timeout_s,
                    read_timeout_s=s.provider_read_timeout_s)
                if resp.status != 200:
                    raise _ProviderFailed(f"HTTP {resp.status}")
                events = _sse_data(resp.chunks())
                first = await _next_token(events)
                if first is None:
                    raise _ProviderFailed("stream ended before the first token")
            except (UpstreamError, _ProviderFailed, ValueError):
                breaker.record_failure()
                if resp is not None:
                    resp.close()
                continue
            except BaseException:
                breaker.release()
                if resp is not None:
                    resp.close()
                raise
            breaker.record_success()
            return route, resp, first, events
        return None

    async def _relay(self, route: str, dialect: Dialect, stream: ChatStream,
                     max_tokens: int | None, first: str, events: AsyncIterator[str],
                     outcome: dict[str, str]) -> AsyncIterator[bytes]:
        """The client's stream in its dialect: tokens until the provider's [DONE] or
        `max_tokens`; a provider failure ends it with the dialect's in-band error event."""
        yield stream.open() + stream.token(first)
        sent = 1
        while True:
            if max_tokens is not None and sent >= max_tokens:
                yield stream.finish("length", sent)
                return
            # Only the code and message outlive the except clauses: a kept exception would
            # make an exception -> traceback -> frame cycle per broken stream.
            try:
                content = await _next_token(events)
            except _Truncated:
                if not stream.notices_truncation:
                    # Passed on as it came: ended, without the completion marker. The client
                    # is not told, but the log says what happened (the ground truth's own).
                    outcome["code"] = "stream_truncated"
                    return
                code, message = "provider_unavailable", _DISCONNECTED
            except _ProviderFailed as exc:
                code, message = exc.code, exc.message
            except (UpstreamError, ValueError):
                code, message = "provider_unavailable", _DISCONNECTED
            else:
                if content is None:
                    yield stream.finish("stop", sent)
                    return
                sent += 1
                yield stream.token(content)
                continue
            self.breakers[route].record_failure()
            outcome["code"] = "stream_error"
            outcome["error_code"] = code
            yield dialect.error_event(code, message)
            return

    def _finish(self, request_id: str, subject: str | None, status: int, code: str, t0: float,
                waf: str, plan: str, message: str | None, **extra: object) -> None:
        self._requests.labels(self.region, code).inc()
        self.log.write(request_id=request_id, subject=subject, status=status, code=code,
                       latency_ms=(time.monotonic() - t0) * 1000.0, waf_decision=waf,
                       plan_decision=plan, message=message, region=self.region, **extra)


async def _next_token(events: AsyncIterator[str]) -> str | None:
    """The next token's text, or None at the provider's [DONE]. Raises _ProviderFailed with the
    provider's own code on an in-band error event, _Truncated when the stream ended without [DONE]."""
    async for data in events:
        if data == "[DONE]":
            return None
        try:
            event = json.loads(data)
            error = event.get("error")
            if error is not None:
                code = error.get("code") if isinstance(error, dict) else error
                message = error.get("message") if isinstance(error, dict) else None
                raise _ProviderFailed(
                    "in-band error",
                    code if isinstance(code, str) and _CODE.fullmatch(code) else "provider_unavailable",
                    message[:200] if isinstance(message, str) else "upstream provider error")
            content = event["choices"][0]["delta"].get("content")
        except (ValueError, LookupError, TypeError, AttributeError):
            raise _ProviderFailed("malformed provider event") from None
        return content if isinstance(content, str) else ""
    raise _Truncated("stream closed without [DONE]")


async def _sse_data(chunks: AsyncIterator[bytes]) -> AsyncIterator[str]:
    """The `data:` payloads of an SSE byte stream, in order."""
    buf = b""
    async for chunk in chunks:
        buf += chunk
        *lines, buf = buf.split(b"\n")
        for line in lines:
            if line.startswith(b"data: "):
                yield line[6:].rstrip(b"\r").decode()
