"""A lean HTTP/1.1 client connection on asyncio protocols and httptools, timed for SSE streams.

One `Connection` carries one request at a time (keep-alive, no pipelining). It records
the instants the driver needs (first body byte, end), counts SSE events and bytes, keeps
at most 256 bytes of a non-2xx body for its error code, and enforces per-phase timeouts
with a single lazily re-armed timer (no task or timer allocation per event).
"""

from __future__ import annotations

import asyncio
import json
import re
import ssl
import time
from dataclasses import dataclass

import httptools

ERROR_HEAD_BYTES = 256
_ERROR_CODE = re.compile(rb'"error"\s*:\s*(?:\{[^}]*?"code"\s*:\s*)?"([A-Za-z0-9_.:-]{1,64})"')
_DATA_LINE = b"\ndata:"
# An SSE `error` event inside a 2xx stream: the server gave up mid-answer (provider gone, region
# cut behind the router). The client got a broken answer, so it counts as a broken stream.
_ERROR_EVENTS = (b"\nevent: error", b"\nevent:error")
_TAIL = len(_ERROR_EVENTS[0]) - 1  # bytes kept from the previous chunk: patterns may straddle


@dataclass(frozen=True, slots=True)
class Timeouts:
    connect_s: float
    first_byte_s: float
    idle_s: float
    total_s: float


@dataclass(frozen=True, slots=True)
class Exchange:
    """The outcome of one request on the wire. Instants are `time.monotonic()` seconds.

    `kind` is a transport failure kind (connect/reset/timeout/protocol/broken) or None when
    the server answered; `status` is None exactly when no status line was completed.
    """

    status: int | None
    kind: str | None
    first_byte_at: float | None
    ended_at: float
    events: int
    bytes_received: int
    region: str | None
    error_code: str | None
    keep_alive: bool


def error_code_of(head: bytes) -> str | None:
    """The short `error` code of a JSON error body from its first bytes (content never kept)."""
    try:
        doc = json.loads(head)
    except (ValueError, UnicodeDecodeError):
        doc = None
    if isinstance(doc, dict):
        err = doc.get("error")
        if isinstance(err, dict):
            err = err.get("code")
        if isinstance(err, str) and 0 < len(err) <= 64 and err.isprintable():
            return err
        return None
    match = _ERROR_CODE.search(head)  # truncated JSON: the code usually comes first
    return match.group(1).decode("ascii") if match else None


class Connection(asyncio.Protocol):
    """One client connection; `exchange()` sends a request and waits for its outcome."""

    def __init__(self, loop: asyncio.AbstractEventLoop, region_header: bytes) -> None:
        self._loop = loop
        self._region_header = region_header.lower()
        self._transport: asyncio.Transport | None = None
        self._parser = httptools.HttpResponseParser(self)
        self.closed = False
        self.requests = 0  # requests sent on this connection (keep-alive reuse count + 1)
        self._waiter: asyncio.Future[None] | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._reset_exchange(0.0, None)

    # -- per-request state -------------------------------------------------------------
    def _reset_exchange(self, start: float, timeouts: Timeouts | None) -> None:
        self._timeouts = timeouts
        self._start = start
        self._status: int | None = None
        self._headers_done = False
        self._framed = False  # content-length or chunked: the body end is known without EOF
        self._complete = False
        self._kind: str | None = None
        self._first_byte_at: float | None = None
        self._last_byte_at = start
        self._ended_at = start
        self._events = 0
        self._bytes = 0
        self._tail = b"\n"  # so a body that starts with "data:" counts its first line
        self._stream_error = False
        self._region: str | None = None
        self._head = b""
        self._keep_alive = False
        self._wire_bytes = 0

    # -- asyncio.Protocol --------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]  # uvloop's transports are not asyncio.Transport subclasses

    def data_received(self, data: bytes) -> None:
        if self._waiter is None or self._complete:
            self._abort()  # bytes nobody asked for: the connection cannot be trusted
            return
        self._wire_bytes += len(data)
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._fail("protocol")
        except httptools.HttpParserError:
            self._fail("protocol")

    def eof_received(self) -> bool:
        self._finish_at_close(None)
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._finish_at_close(exc)

    # -- httptools callbacks -----------------------------------------------------------
    def on_header(self, name: bytes, value: bytes) -> None:
        lname = name.lower()
        if lname == self._region_header:
            self._region = value.decode("latin-1")[:64]
        elif lname in (b"content-length", b"transfer-encoding"):
            self._framed = True

    def on_headers_complete(self) -> None:
        self._status = self._parser.get_status_code()
        self._headers_done = True
        if self._status in (204, 304) or 100 <= (self._status or 0) < 200:
            self._framed = True

    def on_body(self, body: bytes) -> None:
        now = time.monotonic()
        if self._first_byte_at is None:
            self._first_byte_at = now
        self._last_byte_at = now
        self._bytes += len(body)
        chunk = self._tail + body
        # Occurrences wholly inside the tail were counted with the previous chunk.
        self._events += chunk.count(_DATA_LINE) - self._tail.count(_DATA_LINE)
        self._tail = chunk[-_TAIL:]
        if not self._is_2xx() or self._stream_error:
            if len(self._head) < ERROR_HEAD_BYTES:
                self._head += body[: ERROR_HEAD_BYTES - len(self._head)]
        elif _ERROR_EVENTS[0] in chunk or _ERROR_EVENTS[1] in chunk:
            self._stream_error = True
            at = max(chunk.rfind(_ERROR_EVENTS[0]), chunk.rfind(_ERROR_EVENTS[1]))
            self._head = chunk[at + 1: at + 1 + ERROR_HEAD_BYTES]  # its data line has the code

    def on_message_complete(self) -> None:
        if not self._headers_done:
            return
        self._complete = True
        # Like h11, never reuse an HTTP/1.0 connection, whatever its Connection header says.
        self._keep_alive = self._parser.should_keep_alive() and self._parser.get_http_version() == "1.1"
        self._resolve(time.monotonic())

    # -- the request -------------------------------------------------------------------
    async def exchange(self, request: bytes, timeouts: Timeouts) -> Exchange:
        """Send `request` and wait until the response ends, fails or times out.

        Cancellation aborts the connection and propagates.
        """
        assert self._transport is not None, "exchange() before the connection was made"
        assert self._waiter is None, "one request at a time on a connection"
        start = time.monotonic()
        self._reset_exchange(start, timeouts)
        self._parser = httptools.HttpResponseParser(self)
        self.requests += 1
        waiter: asyncio.Future[None] = self._loop.create_future()
        self._waiter = waiter
        self._arm(min(timeouts.first_byte_s, timeouts.total_s))
        self._transport.write(request)
        try:
            await waiter
        except asyncio.CancelledError:
            self._abort()
            raise
        finally:
            self._waiter = None
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
        if not (self._complete and self._keep_alive):
            self._abort()
        kind = self._kind
        if kind is None and self._stream_error:
            kind = "broken"
        return Exchange(
            status=self._status,
            kind=kind,
            first_byte_at=self._first_byte_at,
            ended_at=self._ended_at,
            events=self._events,
            bytes_received=self._bytes,
            region=self._region,
            error_code=error_code_of(self._head) if self._head else None,
            keep_alive=self._complete and self._keep_alive and not self.closed,
        )

    @property
    def idle_reusable(self) -> bool:
        return not self.closed and self._waiter is None

    @property
    def silent_failure(self) -> bool:
        """The last exchange failed before any response byte (a stale keep-alive race)."""
        return self._kind == "reset" and self._wire_bytes == 0

    def close(self) -> None:
        self._abort()

    # -- internals ---------------------------------------------------------------------
    def _is_2xx(self) -> bool:
        return self._status is not None and 200 <= self._status < 300

    def _arm(self, delay_s: float) -> None:
        self._timer = self._loop.call_later(max(delay_s, 0.0), self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        if self._waiter is None or self._timeouts is None:
            return
        t = self._timeouts
        now = time.monotonic()
        phase_deadline = (
            self._start + t.first_byte_s
            if self._first_byte_at is None
            else self._last_byte_at + t.idle_s
        )
        deadline = min(self._start + t.total_s, phase_deadline)
        if now >= deadline - 0.0005:
            self._fail("timeout")
        else:
            self._arm(deadline - now)

    def _finish_at_close(self, exc: Exception | None) -> None:
        if self._waiter is None or self._waiter.done():
            return
        if self._headers_done and not self._framed and exc is None:
            self._complete = True  # close-delimited body: EOF is its end
            self._keep_alive = False
            self._resolve(time.monotonic())
        elif self._headers_done:
            # The server answered; a 2xx cut short is a broken stream, any other status
            # keeps its class (the server already said what it had to say).
            self._fail("broken" if self._is_2xx() else None)
        else:
            self._fail("reset")

    def _fail(self, kind: str | None) -> None:
        if self._waiter is None or self._waiter.done():
            return
        self._kind = kind
        self._keep_alive = False
        self._abort()
        self._resolve(time.monotonic())

    def _resolve(self, now: float) -> None:
        self._ended_at = now
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _abort(self) -> None:
        self.closed = True
        if self._transport is not None:
            self._transport.abort()


async def open_connection(
    host: str, port: int, *, tls: ssl.SSLContext | None, connect_timeout_s: float,
    region_header: bytes,
) -> Connection:
    """Connect to host:port (TLS through asyncio's SSL transport when `tls` is given).

    Raises OSError or TimeoutError; the caller classifies both as a connect failure.
    """
    loop = asyncio.get_running_loop()
    async with asyncio.timeout(connect_timeout_s):
        _, protocol = await loop.create_connection(
            lambda: Connection(loop, region_header), host, port,
            ssl=tls, server_hostname=host if tls is not None else None,
        )
    return protocol


def build_request(
    *, method: str, path: str, host_header: str, body: bytes, token: str | None,
) -> bytes:
    """The request bytes (built once per subject, reused for every request)."""
    lines = [
        f"{method} {path} HTTP/1.1",
        f"Host: {host_header}",
        "User-Agent: chaos-load/1",
        "Accept: text/event-stream",
        "Content-Type: application/json",
        f"Content-Length: {len(body)}",
    ]
    if token:
        lines.append(f"Authorization: Bearer {token}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body
