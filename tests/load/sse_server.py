"""A real SSE test server on raw asyncio protocols + httptools (run as its own process).

Each request says what it wants in its query string:
  first_ms      delay of the first event after the request arrived (default 0)
  interval_ms   between events (default 0)
  events        number of events (default 1)
  status        response status (default 200); non-2xx answer a JSON error body at once
  error         the JSON `error` code of a non-2xx body (default "test_error")
  framing       chunked | length | close (default chunked)
  close         1: send `Connection: close` and close after the response
  hangup        1: close after the response without saying so (a keep-alive timeout that
                just expired): the client's next request on it finds the connection gone
  abort_after   close the connection (no proper end) after this many events
  error_after   after this many events send `event: error` with the JSON `error` code, then
                end the response properly (chunked framing), as a gateway does mid-stream
  region        value of the x-served-by-region header
  done          0: no `data: [DONE]` after the last event (a truncated stream); default 1
  format        openai: OpenAI chat-completion chunks (a role-only chunk first, then one
                content chunk per event, a finish chunk and a usage chunk before [DONE])
Admin: GET /admin/stall?ms=N holds every response start until N ms from now;
GET /admin/stats returns {"connections": .., "requests": ..}.

    python -m tests.load.sse_server --port 8123 [--host 127.0.0.1]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from urllib.parse import parse_qs, urlsplit

import httptools

_REASONS = {200: b"OK", 400: b"Bad Request", 401: b"Unauthorized", 404: b"Not Found",
            429: b"Too Many Requests", 500: b"Internal Server Error", 502: b"Bad Gateway",
            503: b"Service Unavailable"}


class ServerState:
    def __init__(self) -> None:
        self.connections = 0
        self.requests = 0
        self.stall_until = 0.0  # time.monotonic()
        self.first_late_ms: list[float] = []  # how late the server wrote each first event


STATE = ServerState()


_DONE = b"data: [DONE]\n\n"


def _event(i: int) -> bytes:
    return b'data: {"token": "tok", "i": %d}\n\n' % i


def _openai_event(i: int) -> bytes:
    return (b'data: {"id":"chatcmpl-t","object":"chat.completion.chunk","created":1,"model":"t",'
            b'"choices":[{"index":0,"delta":{"content":"tok%d "},"finish_reason":null}]}\n\n' % i)


_OPENAI_ROLE = (b'data: {"id":"chatcmpl-t","object":"chat.completion.chunk","created":1,"model":"t",'
                b'"choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}\n\n')


def _openai_tail(events: int) -> bytes:
    return (b'data: {"id":"chatcmpl-t","object":"chat.completion.chunk","created":1,"model":"t",'
            b'"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\n'
            b'data: {"id":"chatcmpl-t","object":"chat.completion.chunk","created":1,"model":"t",'
            b'"choices":[],"usage":{"prompt_tokens":1,"completion_tokens":%d,"total_tokens":%d}}\n\n'
            % (events, events + 1))


class SSEProtocol(asyncio.Protocol):
    def __init__(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpRequestParser(self)
        self.url = b""
        self.busy = False
        self.handles: list[asyncio.TimerHandle] = []
        self.error_after: tuple[int, bytes] | None = None  # (events before it, error code)
        self.hangup = False
        self.done = _DONE
        self.openai = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop transports are duck-typed
        STATE.connections += 1

    def connection_lost(self, exc: Exception | None) -> None:
        for h in self.handles:
            h.cancel()
        self.transport = None

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            if self.transport is not None:
                self.transport.close()

    def on_url(self, url: bytes) -> None:
        self.url += url

    def on_message_complete(self) -> None:
        url, self.url = self.url, b""
        STATE.requests += 1
        self.respond(url.decode("latin-1"), self.parser.should_keep_alive())

    def respond(self, url: str, keep_alive: bool) -> None:
        parts = urlsplit(url)
        q = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        now = time.monotonic()
        if parts.path == "/admin/stall":
            STATE.stall_until = now + int(q.get("ms", "1000")) / 1000.0
            self.write_simple(200, b'{"ok": true}', keep_alive)
            return
        if parts.path == "/admin/stats":
            late = sorted(STATE.first_late_ms)
            p99 = late[min(len(late) - 1, int(0.99 * len(late)))] if late else 0.0
            if q.get("reset") == "1":
                STATE.first_late_ms = []
            body = json.dumps({"connections": STATE.connections, "requests": STATE.requests,
                               "first_event_late_p99_ms": p99,
                               "first_event_late_max_ms": late[-1] if late else 0.0})
            self.write_simple(200, body.encode(), keep_alive)
            return
        status = int(q.get("status", "200"))
        close = q.get("close") == "1" or not keep_alive
        region = q.get("region")
        extra = b"x-served-by-region: %s\r\n" % region.encode() if region else b""
        begin = max(now, STATE.stall_until)
        if status >= 300:
            body = json.dumps({"error": q.get("error", "test_error"), "detail": "x" * 40}).encode()
            self.at(begin, lambda: self.write_simple(status, body, not close, extra))
            return
        first_s = int(q.get("first_ms", "0")) / 1000.0
        interval_s = int(q.get("interval_ms", "0")) / 1000.0
        events = int(q.get("events", "1"))
        framing = q.get("framing", "chunked")
        abort_after = int(q["abort_after"]) if "abort_after" in q else None
        self.hangup = q.get("hangup") == "1"
        self.done = _DONE if q.get("done", "1") == "1" else b""
        self.openai = q.get("format") == "openai"
        if self.openai:
            self.done = _openai_tail(int(q.get("events", "1"))) + self.done
        if "error_after" in q:
            self.error_after = (int(q["error_after"]), q.get("error", "test_error").encode())
        head = b"HTTP/1.1 %d %s\r\ncontent-type: text/event-stream\r\n%s" % (
            status, _REASONS.get(status, b"X"), extra)
        if framing == "chunked":
            head += b"transfer-encoding: chunked\r\n"
        elif framing == "length":
            body_len = (sum(len(_openai_event(i)) for i in range(events)) + len(_OPENAI_ROLE)
                        if self.openai else sum(len(_event(i)) for i in range(events)))
            head += b"content-length: %d\r\n" % (body_len + len(self.done))
        if close or framing == "close":
            head += b"connection: close\r\n"

        def start() -> None:
            # The head, then each event, schedules the next step: nothing can be reordered.
            self.write(head + b"\r\n")
            if events == 0:
                if self.done:
                    self.write(b"%x\r\n%s\r\n" % (len(self.done), self.done)
                               if framing == "chunked" else self.done)
                self.send_end(framing, close)
                return
            self.at(begin + first_s, lambda: self.send_event(
                0, events, begin + first_s, interval_s, framing, close, abort_after))

        self.at(begin, start)

    def at(self, when: float, fn: object) -> None:
        """Run `fn` at monotonic instant `when`."""
        self.handles.append(self.loop.call_later(max(0.0, when - time.monotonic()), fn))  # type: ignore[arg-type]

    def write(self, data: bytes) -> None:
        if self.transport is not None:
            self.transport.write(data)

    def send_event(self, i: int, events: int, due0: float, interval_s: float, framing: str,
                   close: bool, abort_after: int | None) -> None:
        if abort_after is not None and i == abort_after:
            self.abort()
            return
        if self.error_after is not None and i == self.error_after[0]:
            data = b'event: error\ndata: {"error": "%s"}\n\n' % self.error_after[1]
            self.write(b"%x\r\n%s\r\n" % (len(data), data))
            self.error_after = None
            self.send_end(framing, close)
            return
        if i == 0:
            STATE.first_late_ms.append(max(0.0, (time.monotonic() - due0) * 1000.0))
        first = _OPENAI_ROLE if self.openai and i == 0 else b""
        data = first + (_openai_event(i) if self.openai else _event(i))
        if i == events - 1:
            data += self.done
        self.write(b"%x\r\n%s\r\n" % (len(data), data) if framing == "chunked" else data)
        if i == events - 1:
            self.send_end(framing, close)
            return
        self.handles.clear()
        self.at(due0 + (i + 1) * interval_s, lambda: self.send_event(
            i + 1, events, due0, interval_s, framing, close, abort_after))

    def send_end(self, framing: str, close: bool) -> None:
        if framing == "chunked":
            self.write(b"0\r\n\r\n")
        self.handles.clear()
        if (close or framing == "close" or self.hangup) and self.transport is not None:
            self.transport.close()

    def abort(self) -> None:
        if self.transport is not None:
            self.transport.close()

    def write_simple(self, status: int, body: bytes, keep_alive: bool, extra: bytes = b"") -> None:
        head = b"HTTP/1.1 %d %s\r\ncontent-type: application/json\r\ncontent-length: %d\r\n%s" % (
            status, _REASONS.get(status, b"X"), len(body), extra)
        if not keep_alive:
            head += b"connection: close\r\n"
        self.write(head + b"\r\n" + body)
        if not keep_alive and self.transport is not None:
            self.transport.close()


async def serve(host: str, port: int) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(SSEProtocol, host, port, backlog=4096, reuse_address=True)
    async with server:
        await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    import resource

    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    import uvloop

    uvloop.run(serve(args.host, args.port))


if __name__ == "__main__":
    main()
