"""A lean HTTP/1.1 client for the testbed's internal hops (router -> gateway -> provider).

asyncio protocol + httptools, one connection per request (`connection: close`): measured at a
fraction of httpx's CPU per streamed event, which is what lets one gateway hold many streams.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import cast

import anyio
import httptools


class UpstreamError(Exception):
    """Connect failure, reset, timeout or malformed response from an upstream."""


class _Failed:
    """The queue's marker for "the response failed": the error itself stays out of the reading
    frame's locals, so raising it makes no exception -> traceback -> frame -> exception cycle."""


_FAILED = _Failed()


class _Protocol(asyncio.Protocol):
    def __init__(self) -> None:
        self.parser: httptools.HttpResponseParser | None = httptools.HttpResponseParser(self)
        self.headers: dict[str, str] = {}
        self.head: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        # body bytes, then None at the end or _FAILED after a failure (the error is in `error`)
        self.chunks: asyncio.Queue[bytes | _Failed | None] = asyncio.Queue()
        self.error: UpstreamError | None = None
        self.complete = False
        self.transport: asyncio.Transport | None = None
        self.last_data = 0.0  # time.monotonic() of the last body bytes
        self._idle_s = 0.0
        self._timer: asyncio.TimerHandle | None = None

    # asyncio callbacks
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def data_received(self, data: bytes) -> None:
        if self.parser is None:
            return
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(UpstreamError(f"bad response: {exc}"))

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.complete:
            self._fail(UpstreamError(f"connection closed mid-response ({exc or 'EOF'})"))
        # Break the protocol <-> parser (bound callbacks) and protocol <-> transport cycles, so
        # a finished request is freed by reference counting instead of waiting, with its
        # queue, futures and buffers, for a full garbage collection.
        self.transport = None
        self.parser = None

    # httptools callbacks
    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers[name.decode("latin-1").lower()] = value.decode("latin-1")

    def on_headers_complete(self) -> None:
        if not self.head.done() and self.parser is not None:
            self.head.set_result(self.parser.get_status_code())

    def on_body(self, body: bytes) -> None:
        self.last_data = time.monotonic()
        self.chunks.put_nowait(bytes(body))

    # idle bound on the body: one lazily re-armed timer per response, not a cancel scope per chunk
    def watch_idle(self, idle_s: float) -> None:
        self._idle_s = idle_s
        self.last_data = time.monotonic()
        self._timer = asyncio.get_running_loop().call_later(idle_s, self._check_idle)

    def _check_idle(self) -> None:
        self._timer = None
        if self.complete or self.transport is None or self.transport.is_closing():
            return
        due = self.last_data + self._idle_s
        now = time.monotonic()
        if now >= due:
            self._fail(UpstreamError(f"no data for {self._idle_s:g}s"))
        else:
            self._timer = asyncio.get_running_loop().call_later(due - now, self._check_idle)

    def stop_watch(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def take_error(self) -> UpstreamError:
        error, self.error = self.error, UpstreamError("response already failed")
        assert error is not None
        return error

    def on_message_complete(self) -> None:
        self.complete = True
        self.chunks.put_nowait(None)
        if self.transport is not None:
            self.transport.close()

    def _fail(self, exc: UpstreamError) -> None:
        if not self.head.done():
            self.head.set_exception(exc)
        if self.error is None:
            self.error = exc
            self.chunks.put_nowait(_FAILED)
        if self.transport is not None:
            self.transport.close()


class UpstreamResponse:
    def __init__(self, proto: _Protocol, status: int) -> None:
        self._proto = proto
        self.status = status
        self.headers = proto.headers

    async def chunks(self) -> AsyncIterator[bytes]:
        """Body bytes as they arrive (chunked encoding already decoded); raises UpstreamError,
        also when no bytes came for `read_timeout_s`."""
        queue = self._proto.chunks
        while True:
            item = await queue.get()
            if item is None:
                return
            if isinstance(item, _Failed):
                raise self._proto.take_error()
            yield item

    async def read(self) -> bytes:
        return b"".join([c async for c in self.chunks()])

    def close(self) -> None:
        self._proto.stop_watch()
        if self._proto.transport is not None:
            self._proto.transport.close()


async def request(host: str, port: int, method: str, path: str, headers: dict[str, str],
                  body: bytes, *, connect_timeout_s: float, read_timeout_s: float) -> UpstreamResponse:
    """Send one request and return once the response head arrived."""
    loop = asyncio.get_running_loop()
    lines = [f"{method} {path} HTTP/1.1", f"host: {host}:{port}", "connection: close",
             f"content-length: {len(body)}"]
    lines += [f"{k}: {v}" for k, v in headers.items()
              if k.lower() not in ("host", "connection", "content-length", "transfer-encoding")]
    try:
        with anyio.fail_after(connect_timeout_s):
            _, proto = await loop.create_connection(_Protocol, host, port)
    except (OSError, TimeoutError) as exc:
        raise UpstreamError(f"connect {host}:{port}: {exc or type(exc).__name__}") from None
    if proto.transport is None:  # the peer closed (or reset) before the request went out
        raise UpstreamError(f"connection to {host}:{port} closed before the request was sent")
    proto.transport.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)
    response = UpstreamResponse(proto, 0)
    try:
        with anyio.fail_after(read_timeout_s):
            status = await proto.head
    except TimeoutError:
        response.close()
        raise UpstreamError(f"no response head from {host}:{port} in {read_timeout_s:g}s") from None
    except BaseException:
        response.close()
        raise
    proto.watch_idle(read_timeout_s)
    response.status = status
    return response
