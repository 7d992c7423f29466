"""Minimal ASGI plumbing shared by the testbed components: requests, JSON replies, streams, metrics.

The components are plain ASGI callables (no framework) because every layer costs CPU per token
event and the testbed must hold 1,000 streams on a small machine.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any

import anyio
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from chaos.gcpacing import GCPacing

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

SSE_HEADERS = [(b"content-type", b"text/event-stream"), (b"cache-control", b"no-cache"),
               (b"x-accel-buffering", b"no")]


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    headers: dict[str, str]  # lower-case names; the last value wins

    @classmethod
    def from_scope(cls, scope: Scope) -> Request:
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        return cls(scope["method"], scope["path"], headers)


class BodyTooLarge(Exception):
    """The request body exceeded the component's limit."""


async def read_body(receive: Receive, limit: int = 1 << 20) -> bytes:
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


async def send_bytes(send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]]) -> None:
    await send({"type": "http.response.start", "status": status,
                "headers": [*headers, (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body, "more_body": False})


async def send_json(send: Send, status: int, obj: object,
                    headers: list[tuple[bytes, bytes]] | None = None) -> None:
    await send_bytes(send, status, json.dumps(obj).encode(),
                     [(b"content-type", b"application/json"), *(headers or [])])


async def send_json_error(send: Send, status: int, body: object, *,
                          retry_after_s: float | None = None,
                          headers: list[tuple[bytes, bytes]] | None = None) -> None:
    """An error answer with a JSON `body`, with Retry-After (whole seconds, >= 1) when given."""
    hdrs = list(headers or [])
    if retry_after_s is not None:
        hdrs.append((b"retry-after", str(max(1, round(retry_after_s + 0.499))).encode()))
    await send_json(send, status, body, hdrs)


async def send_error(send: Send, status: int, code: str, *, retry_after_s: float | None = None,
                     headers: list[tuple[bytes, bytes]] | None = None, **extra: object) -> None:
    """The testbed's JSON error body `{"error": code, ...}` (see `send_json_error`)."""
    await send_json_error(send, status, {"error": code, **extra}, retry_after_s=retry_after_s,
                          headers=headers)


async def send_metrics(send: Send, registry: CollectorRegistry) -> None:
    await send_bytes(send, 200, generate_latest(registry),
                     [(b"content-type", CONTENT_TYPE_LATEST.encode())])


async def send_stream(send: Send, receive: Receive, status: int,
                      headers: list[tuple[bytes, bytes]], chunks: AsyncIterator[bytes]) -> bool:
    """Stream `chunks` as they come (no buffering). Returns False when the client went away first.

    A watcher task waits for `http.disconnect` and cancels the stream, so an abandoned stream
    stops pulling from upstream at once; the caller's `finally` blocks then release its resources.
    """
    await send({"type": "http.response.start", "status": status, "headers": headers})
    completed = False
    async with anyio.create_task_group() as tg:

        async def watch() -> None:
            while (await receive())["type"] != "http.disconnect":
                pass
            tg.cancel_scope.cancel()

        tg.start_soon(watch)
        async for chunk in chunks:
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})
        completed = True
        tg.cancel_scope.cancel()
    return completed


async def not_found(send: Send) -> None:
    await send_error(send, 404, "not_found")


async def lifespan(receive: Receive, send: Send,
                   startup: Callable[[], Awaitable[None]],
                   shutdown: Callable[[], Awaitable[None]]) -> None:
    """The ASGI lifespan protocol around a component's start-up and shut-down hooks."""
    while True:
        msg = await receive()
        if msg["type"] == "lifespan.startup":
            try:
                await startup()
            except Exception as exc:  # reported to uvicorn, which exits with the message
                await send({"type": "lifespan.startup.failed", "message": str(exc)})
                return
            await send({"type": "lifespan.startup.complete"})
        elif msg["type"] == "lifespan.shutdown":
            await shutdown()
            await send({"type": "lifespan.shutdown.complete"})
            return


class Component(ABC):
    """Base of the testbed's ASGI apps: the lifespan protocol, and a parsed request for `handle`.

    `_background` runs from start-up to shut-down (health checks, Redis pings); subclasses route
    each HTTP request in `handle`.
    """

    # Set by the component's own process (`chaos.testbed.serve`), never in a host process: the
    # collector is paced once start-up is done.
    gc_pacing: GCPacing | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            async with anyio.create_task_group() as tg:
                tg.start_soon(self._background)

                async def started() -> None:
                    await self._startup()
                    if self.gc_pacing is not None:
                        self.gc_pacing.install()
                        tg.start_soon(self.gc_pacing.run_forever)

                await lifespan(receive, send, started, self._shutdown)
                tg.cancel_scope.cancel()
            return
        await self.handle(Request.from_scope(scope), scope, receive, send)

    @abstractmethod
    async def handle(self, req: Request, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer one HTTP request."""

    async def _startup(self) -> None:
        return None

    async def _shutdown(self) -> None:
        return None

    async def _background(self) -> None:
        return None
