"""A lean HTTP/1.1 client connection on asyncio protocols and httptools, timed for SSE streams.

One `Connection` carries one request at a time (keep-alive, no pipelining). It records
the instants the driver needs (first body byte, end), counts SSE events and bytes, keeps
at most 256 bytes of a non-2xx body for its error code, and enforces per-phase timeouts
with one lazily re-armed timer per connection (no task, future or timer per request when
driven through `send()`).
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import Callable

import httptools

from chaos.load.exchange import ERROR_HEAD_BYTES, Exchange, Timeouts, error_code_of
from chaos.recording import SSE_ERROR_EVENTS

_DATA_LINE = b"\ndata:"
_ERROR_EVENTS = SSE_ERROR_EVENTS  # a 2xx stream ending in one of these is a broken stream
# In every error event: one cheap search rules both out. (`find`, not `in`: bytes.__contains__
# first tries its argument as an int and pays for a TypeError before it searches.)
_EVENT_FIELD = b"\nevent:"
_TAIL = len(_ERROR_EVENTS[0]) - 1  # bytes kept from the previous chunk: patterns may straddle
# The tail starts as filler + "\n", so a body that starts with "data:" counts its first line
# and the tail is always _TAIL bytes long.
_TAIL_START = b"\0" * (_TAIL - 1) + b"\n"
_DATA_FROM = _TAIL - (len(_DATA_LINE) - 1)  # a data line that ends in the new bytes starts here
_monotonic = time.monotonic
_new_tuple = tuple.__new__
# Body pieces wait (at most this many, or one read this large) to be counted in one pass;
# every exchange's end counts what is left, so nothing outlives its exchange.
_PENDING_PIECES = 16
_PENDING_READ_BYTES = 4096


ExchangeDone = Callable[["Connection"], object]


class Connection(asyncio.Protocol):
    """One client connection: `send()` starts a request and calls back when it has ended
    (the worker's keep-alive loop runs in these callbacks); `exchange()` awaits one.

    The hot path (a keep-alive request) allocates no future, no timer and no parser: the
    parser lives as long as the connection (llhttp resets itself after a complete message,
    and a connection is only reused after one), and the timeout timer is re-armed lazily
    (see `_arm`).
    """

    __slots__ = (
        "_body", "_bytes", "_collect_head", "_complete", "_connection_header", "_done",
        "_ended_at", "_events", "_expected", "_first_byte_at", "_head", "_headers",
        "_keep_alive", "_kind", "_last_byte_at", "_loop", "_names", "_parser", "_received_at",
        "_region", "_region_header", "_region_key", "_stale_parser", "_start", "_status",
        "_tail", "_timeouts", "_timer", "_timer_due", "_transport", "closed", "on_body",
        "on_header", "on_message_begin",
    )

    def __init__(self, loop: asyncio.AbstractEventLoop, region_header: bytes) -> None:
        self._loop = loop
        self._region_header = region_header.lower()
        self._transport: asyncio.Transport | None = None
        # httptools looks its callbacks up once, when the parser is made. Body pieces and
        # headers go straight into a list and a dict (C calls, no Python frame each), read
        # in batches (`_take_body`) and once per head (`on_headers_complete`). A message
        # begin pops the token `send()` put in `_expected`: a message nobody asked for (bytes
        # after the response, in the same read) finds none, and its IndexError fails the
        # parse. Invariant: the three containers are mutated in place, never rebound.
        self._body: list[bytes] = []
        self.on_body = self._body.append
        self._headers: dict[bytes, bytes] = {}
        self.on_header = self._headers.__setitem__
        self._expected: list[None] = []
        self.on_message_begin = self._expected.pop
        self._parser = httptools.HttpResponseParser(self)
        self._stale_parser = False  # it saw bytes after a response: the next request gets a new one
        self.closed = False
        self._done: ExchangeDone | None = None  # set exactly while an exchange is in flight
        # Invariant: `_timer` is None or fires at `_timer_due` (monotonic), never later
        # than the pending exchange's next deadline.
        self._timer: asyncio.TimerHandle | None = None
        self._timer_due = 0.0
        self._received_at = 0.0  # when the bytes being parsed arrived
        self._ended_at = self._last_byte_at = 0.0
        self._keep_alive = self._connection_header = False
        self._names: set[bytes] = set()  # the header names last read, and what they said:
        self._region_key: bytes | None = None
        self._reset_exchange(0.0, None)

    # -- per-request state -------------------------------------------------------------
    def _reset_exchange(self, start: float, timeouts: Timeouts | None) -> None:
        # Not reset, as always written before they are read: `_ended_at` (by `_end`),
        # `_last_byte_at` (with `_first_byte_at`), `_keep_alive` (read only once `_complete`).
        self._timeouts = timeouts
        self._start = start
        self._status: int | None = None  # None until the response head is complete
        self._complete = False
        self._kind: str | None = None  # "broken" once an SSE error event is counted
        self._first_byte_at: float | None = None
        self._events = 0
        self._bytes = 0
        self._tail = _TAIL_START
        self._collect_head = False  # non-2xx, or after an SSE error event: keep the body's head
        self._region: str | None = None
        self._head = b""

    # -- asyncio.Protocol --------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]  # uvloop's transports are not asyncio.Transport subclasses

    def data_received(self, data: bytes) -> None:
        if self._done is None or self._complete:
            self._abort()  # bytes nobody asked for: the connection cannot be trusted
            return
        # One clock read per read: everything parsed from `data` arrived at this instant.
        self._received_at = now = _monotonic()
        try:
            self._parser.feed_data(data)
        except (httptools.HttpParserError, httptools.HttpParserUpgrade):
            self._parse_failed(now)
            return
        if self._body:
            if self._first_byte_at is None:
                self._first_byte_at = now
            self._last_byte_at = now
            if self._complete:
                self._end(now)  # it counts the body
                return
            if len(self._body) >= _PENDING_PIECES or len(data) > _PENDING_READ_BYTES:
                self._take_body()
        elif self._complete:
            self._end(now)

    def _parse_failed(self, now: float) -> None:
        if self._body:
            if self._first_byte_at is None:
                self._first_byte_at = now
            self._last_byte_at = now
        if self._complete:
            self._stale_parser = True  # garbage after the response, in the same read
            self._end(now)
        else:
            self._fail("protocol")

    def eof_received(self) -> bool:
        self._finish_at_close(None)
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._cancel_timer()
        self._finish_at_close(exc)

    # -- httptools callbacks (besides the three C ones bound in __init__) ---------------
    def on_headers_complete(self) -> None:
        status = self._status = self._parser.get_status_code()
        self._collect_head = not 200 <= status < 300
        headers = self._headers
        if headers.keys() != self._names:
            self._learn_names()
        if self._region_key is not None:
            self._region = headers[self._region_key].decode("latin-1")[:64]

    def _learn_names(self) -> None:
        """Read the header names: where the region is, whether a Connection header came. A
        server sends the same names, spelled the same, response after response, so this
        runs about once per connection."""
        self._names = set(self._headers)
        spelled = {name.lower(): name for name in self._names}
        self._region_key = spelled.get(self._region_header)
        # Only with a Connection header can llhttp's keep-alive differ from h11's (an
        # HTTP/1.0 "keep-alive"); the version check is dear enough to skip otherwise.
        self._connection_header = b"connection" in spelled

    def on_message_complete(self) -> None:  # always after on_headers_complete
        self._complete = True
        parser = self._parser
        keep_alive = parser.should_keep_alive()
        if keep_alive and self._connection_header:
            # Like h11, never reuse an HTTP/1.0 connection, whatever its Connection header says.
            keep_alive = parser.get_http_version() == "1.1"
        self._keep_alive = keep_alive

    def _take_body(self) -> None:
        """Count the events and bytes of the body pieces parsed so far (their arrival was
        noted per read) and look for an SSE error event; keep a non-2xx body's head."""
        pieces = self._body
        body = b"".join(pieces)  # of one piece: that piece, not a copy
        pieces.clear()
        self._bytes += len(body)
        chunk = self._tail + body
        # Occurrences that start in the tail's first bytes lie wholly inside it: they were
        # counted with the previous pieces.
        self._events += chunk.count(_DATA_LINE, _DATA_FROM)
        self._tail = chunk[-_TAIL:]
        if self._collect_head:
            if len(self._head) < ERROR_HEAD_BYTES:
                self._head += body[: ERROR_HEAD_BYTES - len(self._head)]
        elif chunk.find(_EVENT_FIELD) >= 0 and (_ERROR_EVENTS[0] in chunk or _ERROR_EVENTS[1] in chunk):
            if self._kind is None:  # a transport failure noted before says more
                self._kind = "broken"
            self._collect_head = True
            at = max(chunk.rfind(_ERROR_EVENTS[0]), chunk.rfind(_ERROR_EVENTS[1]))
            self._head = chunk[at + 1: at + 1 + ERROR_HEAD_BYTES]  # its data line has the code

    # -- the request -------------------------------------------------------------------
    async def exchange(self, request: bytes, timeouts: Timeouts) -> Exchange:
        """Send `request` and wait until the response ends, fails or times out.

        Cancellation aborts the connection and propagates.
        """
        waiter: asyncio.Future[None] = self._loop.create_future()
        self.send(request, timeouts, _waker(waiter))
        try:
            await waiter
        except asyncio.CancelledError:
            self.close()
            raise
        return self.outcome()

    def send(self, request: bytes, timeouts: Timeouts, done: ExchangeDone) -> float:
        """Send `request` and return the instant it started (`time.monotonic()`).

        `done(self)` is called once, from a loop callback, when the response has ended,
        failed or timed out. Then `outcome()` says how: at once or later, but before the
        next `send()`. `done` may send the next request itself."""
        assert self._done is None, "one request at a time on a connection"
        start = _monotonic()
        self._reset_exchange(start, timeouts)
        self._headers.clear()
        self._expected.append(None)
        if self._stale_parser:
            self._parser = httptools.HttpResponseParser(self)
            self._stale_parser = False
        self._done = done
        due = start + timeouts.first_check_s
        if self._timer is None or self._timer_due > due:
            self._arm(due)
        self._transport.write(request)  # type: ignore[union-attr]  # None only before connection_made
        return start

    def outcome(self) -> Exchange:
        """How the exchange `send()` started has ended (once `done` was called). A
        connection that cannot carry another request is closed here."""
        reusable = self._complete and self._keep_alive
        if not reusable:
            self._abort()
        head = self._head
        return _new_tuple(Exchange, (  # Exchange(...) without its Python-level __new__
            self._status, self._kind, self._first_byte_at, self._ended_at, self._events,
            self._bytes, self._region, error_code_of(head) if head else None,
            reusable and not self.closed,
        ))

    @property
    def idle_reusable(self) -> bool:
        return not self.closed and self._done is None

    @property
    def silent_failure(self) -> bool:
        """The last exchange failed before any response byte (a stale keep-alive race)."""
        return self._kind == "reset" and self._received_at < self._start

    def close(self) -> None:
        """Abort the connection; an exchange in flight is abandoned (`done` is not called)."""
        self._done = None
        self._abort()

    # -- internals ---------------------------------------------------------------------
    def _arm(self, due: float) -> None:
        """Make the timer fire at `due`. `send()` keeps a timer already due earlier: it
        fires, finds the deadline ahead and re-arms. Deadlines only move later on a
        keep-alive connection, so the steady state arms no timer per request."""
        if self._timer is not None:
            self._timer.cancel()
        self._timer_due = due
        self._timer = self._loop.call_later(max(due - _monotonic(), 0.0), self._on_timer)

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _on_timer(self) -> None:
        self._timer = None
        if self._done is None or self._timeouts is None:
            return  # between requests: the next one arms again
        t = self._timeouts
        now = _monotonic()
        phase_deadline = (
            self._start + t.first_byte_s
            if self._first_byte_at is None
            else self._last_byte_at + t.idle_s
        )
        deadline = min(self._start + t.total_s, phase_deadline)
        if now >= deadline - 0.0005:
            self._fail("timeout")
        elif self._first_byte_at is None:
            self._arm(min(deadline, now + t.idle_s))  # a first byte may start the idle clock
        else:
            self._arm(deadline)

    def _framed(self) -> bool:
        """The response's end is known without EOF (content-length, chunked, or no body)."""
        status = self._status or 0
        return status < 200 or status in (204, 304) or any(
            name.lower() in (b"content-length", b"transfer-encoding") for name in self._headers
        )

    def _finish_at_close(self, exc: Exception | None) -> None:
        if self._done is None:
            return
        if self._status is not None and exc is None and not self._framed():
            self._complete = True  # close-delimited body: EOF is its end
            self._keep_alive = False
            self._end(_monotonic())
        elif self._status is not None:
            # The server answered; a 2xx cut short is a broken stream, any other status
            # keeps its class (the server already said what it had to say).
            self._fail("broken" if 200 <= self._status < 300 else None)
        else:
            self._fail("reset")

    def _fail(self, kind: str | None) -> None:
        if self._done is None:
            return
        self._kind = kind
        self._keep_alive = False
        self._abort()
        self._end(_monotonic())

    def _end(self, now: float) -> None:
        if self._body:
            self._take_body()
        self._ended_at = now
        done = self._done
        if done is not None:
            self._done = None
            done(self)

    def _abort(self) -> None:
        self.closed = True
        self._cancel_timer()
        if self._transport is not None:
            self._transport.abort()


def _waker(waiter: asyncio.Future[None]) -> ExchangeDone:
    def done(_: Connection) -> None:
        if not waiter.done():
            waiter.set_result(None)

    return done


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
