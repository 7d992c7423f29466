"""A lean HTTP/1.1 client connection on asyncio protocols and llhttp, timed for SSE streams.

One `Connection` carries one request at a time (keep-alive, no pipelining). Responses are
read by llhttp driven from C (`chaos.load._wire`: one call per read), or, where that module
is not built, by httptools (the same llhttp, with a Python callback per header, body chunk
and message edge); tests run both (`READERS`). It records the instants the driver needs
(first body byte, end), reads a 2xx body through the target's protocol profile
(`chaos.protocols`: events, first content, completion marker, in-band errors), keeps at most
256 bytes of a non-2xx body for its error code, and enforces per-phase timeouts with one
lazily re-armed timer per connection (no task, future or timer per request when driven
through `send()`).
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import Callable

import httptools

from chaos.load.exchange import ERROR_HEAD_BYTES, Exchange, Timeouts, error_code_of
from chaos.protocols import StreamState, classify_outcome

try:  # the compiled reader (chaos/load/_wire.c), optional as every compiled module here is
    from chaos.load import _wire
except ImportError:  # pragma: no cover - built wherever a C compiler is
    _wire = None  # type: ignore[assignment]

_monotonic = time.monotonic
_new_tuple = tuple.__new__


ExchangeDone = Callable[["Connection"], object]


class Connection(asyncio.Protocol):
    """One client connection: `send()` starts a request and calls back when it has ended
    (the worker's keep-alive loop runs in these callbacks); `exchange()` awaits one.

    What reads the response (`data_received`, `_expect`, `_has_framing_header`) is the
    subclass's; everything else (instants, timeouts, the outcome) is here. The hot path (a
    keep-alive request) allocates no future, no timer and no parser, and the timeout timer
    is re-armed lazily (see `_arm`).

    Invariant (both readers): when the head completes, `_status`, `_head_at`, `_region`
    and `_collect_head` are set; every read with body bytes sets `_first_byte_at` (once),
    `_last_byte_at` and `_bytes`, and hands a 2xx body to `_stream` or keeps a non-2xx
    body's head in `_head`; `_complete` and `_keep_alive` are set when the message is.
    """

    __slots__ = (
        "_bytes", "_collect_head", "_complete", "_done", "_ended_at", "_expect",
        "_first_byte_at", "_head", "_head_at", "_keep_alive", "_kind", "_last_byte_at", "_loop",
        "_received_at", "_region", "_start", "_status", "_stream", "_timeouts", "_timer",
        "_timer_due", "_transport", "closed",
    )

    def __init__(
        self, loop: asyncio.AbstractEventLoop, region_header: bytes, stream: StreamState,
    ) -> None:
        # `region_header`: the response header that names the serving region (the reader's).
        self._loop = loop
        self._stream = stream  # the protocol's reading of a 2xx body, reset per exchange
        self._transport: asyncio.Transport | None = None
        self._expect: Callable[[], None]  # the reader's: get ready for a new response
        self.closed = False
        self._done: ExchangeDone | None = None  # set exactly while an exchange is in flight
        # Invariant: `_timer` is None or fires at `_timer_due` (monotonic), never later
        # than the pending exchange's next deadline.
        self._timer: asyncio.TimerHandle | None = None
        self._timer_due = 0.0
        self._received_at = 0.0  # when the bytes being parsed arrived
        self._ended_at = self._last_byte_at = 0.0
        self._keep_alive = False
        self._reset_exchange(0.0, None)

    # -- per-request state -------------------------------------------------------------
    def _reset_exchange(self, start: float, timeouts: Timeouts | None) -> None:
        # Not reset, as always written before they are read: `_ended_at` (by `_end`),
        # `_last_byte_at` (with `_first_byte_at`), `_keep_alive` (read only once `_complete`).
        self._timeouts = timeouts
        self._start = start
        self._status: int | None = None  # None until the response head is complete
        self._complete = False
        self._kind: str | None = None  # how the exchange failed on the wire, if it did
        self._first_byte_at: float | None = None
        self._head_at = 0.0  # when the response head was complete
        self._bytes = 0
        self._collect_head = False  # a non-2xx answer: keep the body's head for its code
        self._region: str | None = None
        self._head = b""
        self._stream.reset()

    # -- asyncio.Protocol --------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]  # uvloop's transports are not asyncio.Transport subclasses

    def eof_received(self) -> bool:
        self._finish_at_close(None)
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._cancel_timer()
        self._finish_at_close(exc)

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
        self._expect()
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
        status = self._status
        stream = self._stream
        if status is not None and 200 <= status < 300:
            if stream.done_at is not None and stream.error_code is None and stream.malformed is None:
                cls, code = "2xx", None  # classify_outcome's complete stream, without a call
            else:
                cls, code = classify_outcome(status, self._kind, stream)
        else:
            cls, code = classify_outcome(status, self._kind, None)
            head = self._head
            code = error_code_of(head) if head else None
        tokens = stream.usage_tokens
        return _new_tuple(Exchange, (  # Exchange(...) without its Python-level __new__
            status, cls, code, self._kind, self._first_byte_at, stream.first_content_at,
            stream.done_at, self._ended_at,
            stream.content_chunks if tokens is None else tokens, tokens is not None,
            stream.gaps_us, stream.first_kind, stream.events, self._bytes, self._region,
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
        status = self._status
        stalled = False
        if status is None:
            phase_deadline = self._start + t.first_byte_s
        elif 200 <= status < 300:
            # A 2xx stream: the stall clock runs from the last event (or the head); comment
            # lines and partial events do not reset it.
            last = self._stream.last_event_at
            phase_deadline = (self._head_at if last is None else last) + t.stall_s
            stalled = True
        else:
            last_byte = self._head_at if self._first_byte_at is None else self._last_byte_at
            phase_deadline = last_byte + t.stall_s
        total_deadline = self._start + t.total_s
        deadline = min(total_deadline, phase_deadline)
        if now >= deadline - 0.0005:
            self._fail("stall" if stalled and phase_deadline <= total_deadline else "timeout")
        elif status is None:
            self._arm(min(deadline, now + t.stall_s))  # the head may start the stall clock
        else:
            self._arm(deadline)

    def _framed(self) -> bool:
        """The response's end is known without EOF (content-length, chunked, or no body)."""
        status = self._status or 0
        return status < 200 or status in (204, 304) or self._has_framing_header()

    def _has_framing_header(self) -> bool:
        raise NotImplementedError

    def _finish_at_close(self, exc: Exception | None) -> None:
        if self._done is None:
            return
        if self._status is not None and exc is None and not self._framed():
            self._complete = True  # close-delimited body: EOF is its end
            self._keep_alive = False
            self._end(_monotonic())
        elif self._status is not None:
            # The server answered, then the connection ended before the body did: a 2xx
            # stream without its completion marker is truncated (the protocol decides), any
            # other status keeps its class (the server already said what it had to say).
            self._fail("closed" if exc is None else "reset")
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
        status = self._status
        if status is not None and 200 <= status < 300:
            self._stream.finish(now)
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


class WireConnection(Connection):
    """A connection whose responses llhttp reads in C (`chaos.load._wire.Response`): one
    call per read says what that read held (flags), and the 2xx body bytes of the read,
    de-chunked, go to the stream reader in one piece."""

    __slots__ = ("_reader",)

    def __init__(
        self, loop: asyncio.AbstractEventLoop, region_header: bytes, stream: StreamState,
    ) -> None:
        self._reader = _wire.Response(region_header)
        super().__init__(loop, region_header, stream)
        self._expect = self._reader.reset  # a fresh parser per response (it pauses at each end)

    def data_received(self, data: bytes) -> None:
        if self._done is None or self._complete:
            self._abort()  # bytes nobody asked for: the connection cannot be trusted
            return
        # One clock read per read: everything parsed from `data` arrived at this instant.
        self._received_at = now = _monotonic()
        reader = self._reader
        flags = reader.feed(data)
        if flags & _HEAD:
            status = self._status = reader.status
            self._head_at = now
            self._collect_head = not 200 <= status < 300
            self._region = reader.region
        if flags & _BYTES:
            if self._first_byte_at is None:
                self._first_byte_at = now
            self._last_byte_at = now
            self._bytes = reader.bytes
            if flags & _BODY:  # a 2xx body: every event carries the instant it arrived
                self._stream.feed(reader.body, now)
            elif self._collect_head:
                self._head = reader.head
        if flags & _COMPLETE:
            # Bytes after the message in the same read (EXTRA) are dropped: the next
            # response is read by a fresh parser.
            self._complete = True
            self._keep_alive = reader.keep_alive
            self._end(now)
        elif flags & _ERROR:
            self._fail("protocol")

    def _has_framing_header(self) -> bool:
        return bool(self._reader.framed)


class HttptoolsConnection(Connection):
    """A connection whose responses httptools reads: where `chaos.load._wire` is not built.

    httptools looks its callbacks up once, when the parser is made. Body pieces and headers
    go straight into a list and a dict (C calls, no Python frame each), read in batches
    (`_take_body`) and once per head (`on_headers_complete`). A message begin pops the token
    `send()` put in `_expected`: a message nobody asked for (bytes after the response, in
    the same read) finds none, and its IndexError fails the parse. The parser lives as long
    as the connection (llhttp resets itself after a complete message, and a connection is
    only reused after one). Invariant: the three containers are mutated in place, never
    rebound.
    """

    __slots__ = (
        "_body", "_connection_header", "_expected", "_headers", "_names", "_parser",
        "_region_header", "_region_key", "_stale_parser", "on_body", "on_header",
        "on_message_begin",
    )

    def __init__(
        self, loop: asyncio.AbstractEventLoop, region_header: bytes, stream: StreamState,
    ) -> None:
        self._region_header = region_header.lower()
        self._body: list[bytes] = []
        self.on_body = self._body.append
        self._headers: dict[bytes, bytes] = {}
        self.on_header = self._headers.__setitem__
        self._expected: list[None] = []
        self.on_message_begin = self._expected.pop
        self._parser = httptools.HttpResponseParser(self)
        self._stale_parser = False  # it saw bytes after a response: the next request gets a new one
        self._connection_header = False
        self._names: set[bytes] = set()  # the header names last read, and what they said:
        self._region_key: bytes | None = None
        super().__init__(loop, region_header, stream)
        self._expect = self._expect_response

    def _expect_response(self) -> None:
        self._headers.clear()
        self._expected.append(None)
        if self._stale_parser:
            self._parser = httptools.HttpResponseParser(self)
            self._stale_parser = False

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
        pieces = self._body
        if pieces:
            if self._first_byte_at is None:
                self._first_byte_at = now
            self._last_byte_at = now
            if self._collect_head:
                self._take_body(now)
            else:
                # `_take_body` inline for a 2xx body (once per read, so one Python call
                # less). Every event carries the instant it arrived.
                if len(pieces) == 1:
                    body = pieces.pop()
                else:
                    body = b"".join(pieces)
                    pieces.clear()
                self._bytes += len(body)
                self._stream.feed(body, now)
        if self._complete:
            self._end(now)

    def _parse_failed(self, now: float) -> None:
        if self._body:
            if self._first_byte_at is None:
                self._first_byte_at = now
            self._last_byte_at = now
            self._take_body(now)
        if self._complete:
            self._stale_parser = True  # garbage after the response, in the same read
            self._end(now)
        else:
            self._fail("protocol")

    # -- httptools callbacks (besides the three C ones bound in __init__) ---------------
    def on_headers_complete(self) -> None:
        status = self._status = self._parser.get_status_code()
        self._head_at = self._received_at
        self._collect_head = not 200 <= status < 300
        headers = self._headers
        if headers.keys() != self._names:
            self._learn_names()
        if self._region_key is not None:
            # llhttp keeps a value's trailing spaces; HTTP does not count them (RFC 9110 5.5)
            self._region = headers[self._region_key].decode("latin-1").rstrip(" \t")[:64]

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

    def _take_body(self, now: float) -> None:
        """Hand the body pieces of one read to the protocol's stream reader (a 2xx answer)
        or keep a non-2xx body's head for its error code."""
        pieces = self._body
        body = b"".join(pieces) if len(pieces) > 1 else pieces[0]
        pieces.clear()
        self._bytes += len(body)
        if self._collect_head:
            if len(self._head) < ERROR_HEAD_BYTES:
                self._head += body[: ERROR_HEAD_BYTES - len(self._head)]
        else:
            self._stream.feed(body, now)

    def _has_framing_header(self) -> bool:
        return any(name.lower() in (b"content-length", b"transfer-encoding") for name in self._headers)

    def _end(self, now: float) -> None:
        if self._body:
            self._take_body(now)
        super()._end(now)


if _wire is not None:
    _HEAD, _BYTES, _BODY, _COMPLETE, _ERROR = _wire.HEAD, _wire.BYTES, _wire.BODY, _wire.COMPLETE, _wire.ERROR
# The readers there are, the compiled one first: `open_connection` uses the first, tests
# run them all.
READERS: tuple[type[Connection], ...] = (
    (WireConnection, HttptoolsConnection) if _wire is not None else (HttptoolsConnection,)
)


def _waker(waiter: asyncio.Future[None]) -> ExchangeDone:
    def done(_: Connection) -> None:
        if not waiter.done():
            waiter.set_result(None)

    return done


async def open_connection(
    host: str, port: int, *, tls: ssl.SSLContext | None, connect_timeout_s: float,
    region_header: bytes, stream: Callable[[], StreamState], reader: type[Connection] | None = None,
) -> Connection:
    """Connect to host:port (TLS through asyncio's SSL transport when `tls` is given).

    Raises OSError or TimeoutError; the caller classifies both as a connect failure.
    `reader`: which response reader (READERS; default the first).
    """
    loop = asyncio.get_running_loop()
    make = READERS[0] if reader is None else reader
    async with asyncio.timeout(connect_timeout_s):
        _, protocol = await loop.create_connection(
            lambda: make(loop, region_header, stream()), host, port,
            ssl=tls, server_hostname=host if tls is not None else None,
        )
    return protocol
