"""The fault proxy's ASGI app: forwards HTTP/1.1 and SSE to one upstream (http or https) and
carries out the fault switch; `/__chaos/fault` is the switch's admin API."""

from __future__ import annotations

import json
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import urlsplit

import anyio
import httpx

from chaos.faultproxy.stream import StreamBreaker, break_stream
from chaos.faultproxy.switch import FaultSwitch, HttpFault, StreamFault, parse_fault
from chaos.faultproxy.wire import DEFAULT_FAULT_PATHS, ProxyProtocol, Wire

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

ADMIN_PREFIX = "/__chaos/"
FAULT_PATH = "/__chaos/fault"
# Hop-by-hop headers (RFC 9110 section 7.6.1) are the proxy's own on each side.
_HOP = frozenset({b"connection", b"keep-alive", b"proxy-connection", b"proxy-authenticate",
                  b"proxy-authorization", b"te", b"trailer", b"trailers", b"transfer-encoding",
                  b"upgrade"})
_JSON = [(b"content-type", b"application/json")]


@dataclass(frozen=True, slots=True)
class ProxyConfig:
    """One fault point: where it listens, what it forwards to, how the upstream speaks."""

    upstream: str
    listen_host: str = "127.0.0.1"
    listen_port: int = 8089
    protocol: ProxyProtocol = "openai"
    name: str = "upstream"  # the route name the admin API answers with
    fault_paths: tuple[str, ...] | None = None  # path suffixes of faultable POSTs (default: the protocol's)
    seed: int | None = None
    ca_file: str | None = None  # CA bundle for a TLS upstream (default: the system's)
    insecure: bool = False  # do not verify the upstream's certificate (tests only)
    connect_timeout_s: float = 10.0
    read_timeout_s: float = 600.0  # between two reads of an upstream answer
    stall_bound_s: float = 600.0
    max_body_bytes: int = 64 << 20

    @property
    def upstream_origin(self) -> str:
        """scheme://host[:port] of the upstream: shown in answers, never its credentials."""
        parts = urlsplit(self.upstream)
        host = parts.hostname or ""
        return f"{parts.scheme}://{host}" + (f":{parts.port}" if parts.port else "")


@dataclass(frozen=True, slots=True)
class ProxyStatistics:
    forwarded: int
    upstream_errors: int  # connect failures and answers that broke mid-way
    active: int
    switch: dict[str, Any]


class BodyTooLarge(Exception):
    """The request body exceeded the proxy's limit."""


async def _read_body(receive: Receive, limit: int) -> bytes:
    body = bytearray()
    while True:
        msg = await receive()
        if msg["type"] == "http.disconnect":
            return bytes(body)
        body += msg.get("body", b"")
        if len(body) > limit:
            raise BodyTooLarge(f"request body over {limit} bytes")
        if not msg.get("more_body", False):
            return bytes(body)


async def _send_bytes(send: Send, status: int, body: bytes,
                      headers: list[tuple[bytes, bytes]]) -> None:
    await send({"type": "http.response.start", "status": status,
                "headers": [*headers, (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body, "more_body": False})


async def _send_json(send: Send, status: int, doc: object) -> None:
    await _send_bytes(send, status, json.dumps(doc).encode(), _JSON)


def _without_hop(headers: list[tuple[bytes, bytes]], *drop: bytes) -> list[tuple[bytes, bytes]]:
    named = {n.strip().lower() for k, v in headers if k.lower() == b"connection" for n in v.split(b",")}
    skip = _HOP | named | set(drop)
    return [(k.lower(), v) for k, v in headers if k.lower() not in skip]


class FaultProxyApp:
    """ASGI app of one fault point. Invariant: the switch is only changed by the admin API."""

    def __init__(self, config: ProxyConfig) -> None:
        self.config = config
        self.switch = FaultSwitch(config.seed)
        self.wire = Wire(config.protocol)
        self._fault_paths = config.fault_paths or DEFAULT_FAULT_PATHS[config.protocol]
        base = urlsplit(config.upstream)
        if base.scheme not in ("http", "https") or not base.hostname:
            raise ValueError(f"the upstream must be an http:// or https:// URL, not {config.upstream!r}")
        self._base = config.upstream.rstrip("/")
        self._client: httpx.AsyncClient | None = None
        self._forwarded = 0
        self._upstream_errors = 0
        self._active = 0

    @property
    def client(self) -> httpx.AsyncClient:
        if self._client is None:
            c = self.config
            verify: ssl.SSLContext | bool = (False if c.insecure else
                                             ssl.create_default_context(cafile=c.ca_file)
                                             if c.ca_file else True)
            self._client = httpx.AsyncClient(
                verify=verify, http2=False, follow_redirects=False, trust_env=False,
                timeout=httpx.Timeout(c.read_timeout_s, connect=c.connect_timeout_s),
                limits=httpx.Limits(max_connections=None, max_keepalive_connections=256,
                                    keepalive_expiry=30.0))
        return self._client

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    def statistics(self) -> ProxyStatistics:
        return ProxyStatistics(self._forwarded, self._upstream_errors, self._active,
                               asdict(self.switch.statistics()))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
        elif scope["type"] == "http":
            if scope["path"].startswith(ADMIN_PREFIX):
                await self._admin(scope, receive, send)
            else:
                await self._forward(scope, receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            msg = await receive()
            if msg["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif msg["type"] == "lifespan.shutdown":
                await self.aclose()
                await send({"type": "lifespan.shutdown.complete"})
                return

    # -- the admin API ----------------------------------------------------------------

    async def _admin(self, scope: Scope, receive: Receive, send: Send) -> None:
        path, method = scope["path"], scope["method"]
        if path == FAULT_PATH:
            if method == "POST":
                try:
                    raw = json.loads(await _read_body(receive, 1 << 16) or b"null")
                    self.switch.set(parse_fault(raw))
                except (ValueError, BodyTooLarge) as exc:
                    await _send_json(send, 400, {"error": "bad_request", "detail": str(exc)})
                    return
            elif method == "DELETE":
                self.switch.set(None)
            elif method != "GET":
                await _send_json(send, 405, {"error": "method_not_allowed"})
                return
            await _send_json(send, 200, {"route": self.config.name, "fault": self.switch.state_json()})
        elif path == "/__chaos/stats" and method == "GET":
            await _send_json(send, 200, {"route": self.config.name, **asdict(self.statistics())})
        elif path == "/__chaos/health" and method == "GET":
            await _send_json(send, 200, {"status": "ok", "route": self.config.name,
                                         "upstream": self.config.upstream_origin,
                                         "protocol": self.config.protocol})
        else:
            await _send_json(send, 404, {"error": "not_found"})

    # -- forwarding -------------------------------------------------------------------

    def _faultable(self, method: str, path: str) -> bool:
        return method == "POST" and path.rstrip("/").endswith(self._fault_paths)

    async def _forward(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            body = await _read_body(receive, self.config.max_body_bytes)
        except BodyTooLarge as exc:
            await _send_json(send, 413, {"error": "payload_too_large", "detail": str(exc)})
            return
        fault = self.switch.draw() if self._faultable(scope["method"], scope["path"]) else None
        if isinstance(fault, HttpFault):
            err, headers = self.wire.http_error(fault.status, fault.retry_after_s)
            await _send_bytes(send, fault.status, err, [*headers, (b"x-chaos-fault", b"http")])
            return
        headers = _without_hop(list(scope["headers"]), b"host", b"content-length")
        if fault is not None or not any(k == b"accept-encoding" for k, _ in headers):
            # A stream fault reads the events; and httpx would otherwise ask for gzip itself.
            headers = [(k, v) for k, v in headers if k != b"accept-encoding"]
            headers.append((b"accept-encoding", b"identity"))
        raw_path = scope.get("raw_path") or scope["path"].encode()
        url = self._base + raw_path.decode("latin-1")
        if scope.get("query_string"):
            url += "?" + scope["query_string"].decode("latin-1")
        request = self.client.build_request(scope["method"], url, headers=headers, content=body)
        try:
            response = await self.client.send(request, stream=True)
        except httpx.HTTPError as exc:
            self._upstream_errors += 1
            await _send_json(send, 502, {"error": {
                "message": f"fault proxy: upstream {self.config.upstream_origin} failed "
                           f"({type(exc).__name__})", "type": "upstream_error"}})
            return
        self._forwarded += 1
        self._active += 1
        try:
            out_headers = _without_hop(list(response.headers.raw))
            chunks: AsyncIterator[bytes] = response.aiter_raw()
            if isinstance(fault, StreamFault):
                is_stream = (200 <= response.status_code < 300 and response.headers.get(
                    "content-type", "").startswith("text/event-stream"))
                self.switch.count_stream(fault.stream if is_stream else None)
                if is_stream:
                    out_headers = [(k, v) for k, v in out_headers if k != b"content-length"]
                    out_headers.append((b"x-chaos-fault", f"stream_{fault.stream}".encode()))
                    chunks = break_stream(chunks, StreamBreaker(fault, self.wire),
                                          stall_bound_s=self.config.stall_bound_s)
            await self._stream(send, receive, response.status_code, out_headers, chunks)
        finally:
            self._active -= 1
            await response.aclose()

    async def _stream(self, send: Send, receive: Receive, status: int,
                      headers: list[tuple[bytes, bytes]], chunks: AsyncIterator[bytes]) -> None:
        """Each piece is sent as it arrives. The client leaving cancels the reading, so the
        upstream answer is dropped at once; an upstream failure mid-way leaves the message
        unfinished (the server then closes the connection), as the upstream itself did."""
        await send({"type": "http.response.start", "status": status, "headers": headers})
        async with anyio.create_task_group() as tg:

            async def watch() -> None:
                while (await receive())["type"] != "http.disconnect":
                    pass
                tg.cancel_scope.cancel()

            tg.start_soon(watch)
            try:
                async for chunk in chunks:
                    await send({"type": "http.response.body", "body": chunk, "more_body": True})
            except httpx.HTTPError:
                self._upstream_errors += 1
                tg.cancel_scope.cancel()
                return
            await send({"type": "http.response.body", "body": b"", "more_body": False})
            tg.cancel_scope.cancel()
