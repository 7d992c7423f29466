"""A real HTTP/1.1 chat target for tests: OpenAI `/v1/chat/completions` and Anthropic
`/v1/messages`, streamed as the public APIs stream them, with a switchable `behaviour`.

Not a mock of framework code: a stdlib `ThreadingHTTPServer` that validates requests like the
real APIs (400 on a missing field, 401 on a wrong key), answers `Transfer-Encoding: chunked`
with one chunk (one send) per SSE event, and keeps a log of every request it served so a
test can hold the framework's counts against what the target saw.

Behaviours (set `target.behaviour` while it runs): complete, broken (content, then an in-band
error), truncated (content, then a clean end without the completion marker), stall (content,
then silence until the client leaves, bounded), malformed (one unparseable chunk),
json_error (a 200 with an `application/json` error body), rate_limited_in_band (an in-band
rate-limit error before any content), http_503. `complete_first` answers the first K chat
requests complete whatever the behaviour (the preflight canary is the first).
"""

from __future__ import annotations

import json
import select
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

BEHAVIOURS = ("complete", "broken", "truncated", "stall", "malformed", "json_error",
              "rate_limited_in_band", "http_503")
OPENAI_PATH = "/v1/chat/completions"
ANTHROPIC_PATH = "/v1/messages"
_WORDS = ("Hello", " there", ",", " how", " can", " I", " help", " you", " today", "?")


@dataclass
class LoggedRequest:
    """One request as the target saw it. `subject` is the API key after the key prefix (the
    framework's `{subject}`: `canary`, `s0`, `s1`, ...); `behaviour` is what the target chose
    to answer (None for requests it rejected or that were not chat); `finished` is False
    while the answer is being written and when the client left before its end."""

    seq: int
    method: str
    path: str
    request_id: str | None
    subject: str | None
    behaviour: str | None = None
    status: int | None = None
    finished: bool = False
    client_gone: bool = False


class _Gone(Exception):
    """The client closed the connection while the target was answering."""


class ProtocolTarget:
    """Start with `with ProtocolTarget() as target:`; `target.url` is its base URL."""

    def __init__(self, *, api_key_prefix: str = "sk-test-", content_chunks: int = 8,
                 tokens_per_chunk: int = 1, first_token_delay_s: float = 0.05,
                 token_interval_s: float = 0.02, after_chunks: int = 2,
                 stall_max_s: float = 60.0, stall_keepalive_s: float | None = None,
                 region: str = "us-east", routes: tuple[str, ...] = ("primary",)) -> None:
        self.api_key_prefix = api_key_prefix
        self.content_chunks = content_chunks
        self.tokens_per_chunk = tokens_per_chunk  # usage reports this many tokens per chunk
        self.first_token_delay_s = first_token_delay_s
        self.token_interval_s = token_interval_s
        self.after_chunks = after_chunks  # content chunks before a broken/truncated/stall/malformed end
        self.stall_max_s = stall_max_s
        self.stall_keepalive_s = stall_keepalive_s  # None: a stall is pure silence
        self.region = region
        self.routes = routes
        self.behaviour = "complete"
        self.complete_first = 0
        self.error_message: str | None = None  # replaces the message of json_error and http_503
        self._lock = threading.Lock()
        self._log: list[LoggedRequest] = []
        self._chat_served = 0
        self._closing = threading.Event()
        self._connections: set[socket.socket] = set()
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.target = self
        self._thread = threading.Thread(target=self._server.serve_forever, name="protocol-target",
                                        daemon=True)

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> ProtocolTarget:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        self._closing.set()
        self._server.shutdown()
        self._server.server_close()
        with self._lock:
            conns = list(self._connections)
        for conn in conns:  # idle keep-alive connections and stalled streams end now
            with suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        self._thread.join(timeout=5)

    def requests(self, path: str | None = None) -> list[LoggedRequest]:
        """A copy of the request log (optionally of one path), in arrival order."""
        with self._lock:
            return [LoggedRequest(**vars(r)) for r in self._log if path is None or r.path == path]

    def chat_requests(self, *, canary: bool | None = None) -> list[LoggedRequest]:
        """Chat POSTs; `canary=True` only the framework's canaries, False only its load."""
        return [r for r in self.requests() if r.method == "POST" and r.path in (OPENAI_PATH, ANTHROPIC_PATH)
                and (canary is None or (r.subject == "canary") is canary)]

    # -- used by the handler ------------------------------------------------------------

    def _track(self, conn: socket.socket, add: bool) -> None:
        with self._lock:
            (self._connections.add if add else self._connections.discard)(conn)

    def _record(self, method: str, path: str, request_id: str | None, subject: str | None) -> LoggedRequest:
        with self._lock:
            entry = LoggedRequest(len(self._log) + 1, method, path, request_id, subject)
            self._log.append(entry)
            return entry

    def _choose(self, entry: LoggedRequest) -> str:
        with self._lock:
            self._chat_served += 1
            behaviour = "complete" if self._chat_served <= self.complete_first else self.behaviour
            entry.behaviour = behaviour
            return behaviour

    def _finish(self, entry: LoggedRequest, *, status: int | None = None, finished: bool = True,
                gone: bool = False) -> None:
        with self._lock:
            if status is not None:
                entry.status = status
            entry.finished = finished
            entry.client_gone = gone

    def metrics_text(self) -> str:
        """Prometheus text with the series the framework's default metric queries read."""
        with self._lock:
            by_code: dict[str, int] = {}
            for r in self._log:
                if r.behaviour is not None and r.status is not None:
                    code = "ok" if r.behaviour == "complete" else r.behaviour
                    by_code[code] = by_code.get(code, 0) + 1
        region = self.region
        lines = [
            "# HELP provider_circuit_state 0 closed, 1 open, 0.5 half-open",
            "# TYPE provider_circuit_state gauge",
            *(f'provider_circuit_state{{region="{region}",route="{r}"}} 0' for r in self.routes),
            "# HELP queue_oldest_job_age_seconds Age of the oldest waiting request",
            "# TYPE queue_oldest_job_age_seconds gauge",
            f'queue_oldest_job_age_seconds{{region="{region}"}} 0',
            "# HELP queue_depth Requests waiting", "# TYPE queue_depth gauge",
            f'queue_depth{{region="{region}"}} 0',
            "# HELP router_active_region 1 for the region receiving traffic",
            "# TYPE router_active_region gauge",
            f'router_active_region{{region="{region}"}} 1',
            "# HELP router_failovers Changes of the active region", "# TYPE router_failovers counter",
            "router_failovers_total 0",
            "# HELP redis_up 1 when the last Redis call succeeded", "# TYPE redis_up gauge",
            f'redis_up{{region="{region}"}} 1',
            "# HELP chat_requests_total Chat requests by outcome code",
            "# TYPE chat_requests_total counter",
            *(f'chat_requests_total{{region="{region}",code="{c}"}} {n}' for c, n in sorted(by_code.items())),
        ]
        return "\n".join(lines) + "\n"


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    target: ProtocolTarget


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server
    timeout = 30  # an idle keep-alive connection ends after this

    def setup(self) -> None:
        super().setup()
        # As uvicorn and the real APIs' front ends do: an event goes out when it is written,
        # not when the previous segment's (delayed) ACK arrives.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server.target._track(self.connection, True)

    def finish(self) -> None:
        self.server.target._track(self.connection, False)
        with suppress(OSError):
            super().finish()

    def log_message(self, format: str, *args: object) -> None:  # quiet test output
        del format, args

    # -- plain answers --------------------------------------------------------------------

    _entry: LoggedRequest | None = None

    def send_response(self, code: int, message: str | None = None) -> None:
        if self._entry is not None:
            self.server.target._finish(self._entry, status=code, finished=False)
        super().send_response(code, message)

    def _last_write(self, data: bytes) -> None:
        """The answer's last bytes, logged as finished first: a client that has read them
        finds the log complete."""
        if self._entry is not None:
            self.server.target._finish(self._entry)
        self.wfile.write(data)

    def _send_json(self, status: int, doc: object, extra: tuple[tuple[str, str], ...] = ()) -> None:
        body = json.dumps(doc).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        for name, value in extra:
            self.send_header(name, value)
        self.end_headers()
        self._last_write(body)

    def do_GET(self) -> None:
        target = self.server.target
        self._entry = target._record("GET", self.path, self.headers.get("x-request-id"), None)
        if self.path == "/health":
            self._send_json(200, {"status": "ok"})
        elif self.path == "/metrics":
            body = target.metrics_text().encode()
            self.send_response(200)
            self.send_header("content-type", "text/plain; version=0.0.4; charset=utf-8")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self._last_write(body)
        else:
            self._send_json(404, _openai_error("Not found", "invalid_request_error"))

    def do_POST(self) -> None:
        target = self.server.target
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length) if length else b""
        anthropic = self.path == ANTHROPIC_PATH
        key = (self.headers.get("x-api-key") if anthropic
               else _bearer(self.headers.get("authorization")))
        subject = (key[len(target.api_key_prefix):]
                   if key and key.startswith(target.api_key_prefix) else None)
        self._entry = entry = target._record("POST", self.path, self.headers.get("x-request-id"),
                                             subject)
        status, error = self._validate(anthropic, subject, raw)
        if error is not None:
            self._send_json(status, error)
            return
        doc = json.loads(raw)
        behaviour = target._choose(entry)
        stream = _AnthropicStream(doc) if anthropic else _OpenAIStream(doc)
        try:
            self._answer(target, behaviour, stream)
        except (_Gone, OSError):
            self.close_connection = True
            target._finish(entry, finished=False, gone=True)

    def _validate(self, anthropic: bool, subject: str | None, raw: bytes) -> tuple[int, Any]:
        """(status, error document) like the real API, or (200, None) for a valid request."""
        if self.path not in (OPENAI_PATH, ANTHROPIC_PATH):
            return 404, _openai_error(f"Unknown request URL: POST {self.path}.", "invalid_request_error")
        if anthropic:
            if subject is None:
                return 401, _anthropic_error("authentication_error", "invalid x-api-key")
            if not self.headers.get("anthropic-version"):
                return 400, _anthropic_error("invalid_request_error",
                                             "anthropic-version: header is required")
        elif subject is None:
            return 401, _openai_error("Incorrect API key provided.", "invalid_request_error",
                                      code="invalid_api_key")
        try:
            doc = json.loads(raw)
        except ValueError:
            message = "We could not parse the JSON body of your request."
            return 400, (_anthropic_error("invalid_request_error", message) if anthropic
                         else _openai_error(message, "invalid_request_error"))
        if not isinstance(doc, dict):
            doc = {}
        if anthropic:
            for field in ("model", "max_tokens", "messages"):
                if field not in doc:
                    return 400, _anthropic_error("invalid_request_error", f"{field}: Field required")
            return 200, None
        if "messages" not in doc:
            return 400, _openai_error("missing 'messages'", "invalid_request_error", param="messages")
        if "model" not in doc:
            return 400, _openai_error("you must provide a model parameter", "invalid_request_error")
        return 200, None

    # -- the answer -----------------------------------------------------------------------

    def _answer(self, target: ProtocolTarget, behaviour: str,
                stream: _OpenAIStream | _AnthropicStream) -> None:
        region = ("x-served-by-region", target.region)
        if behaviour in ("http_503", "json_error"):
            doc = stream.overloaded()
            if target.error_message is not None:
                doc["error"]["message"] = target.error_message
            if behaviour == "http_503":
                self._send_json(503, doc, (("retry-after", "1"), region))
            else:
                self._send_json(200, doc, (region,))
            return
        if not stream.streaming:  # `stream` not true: one JSON document, as the APIs answer
            words = [_WORDS[i % len(_WORDS)] for i in range(target.content_chunks)]
            self._send_json(200, stream.message("".join(words), len(words) * target.tokens_per_chunk),
                            (region,))
            return
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("cache-control", "no-cache")
        self.send_header("transfer-encoding", "chunked")
        self.send_header(*region)
        self.end_headers()
        for event in stream.opening():
            self._event(event)
        self._event(b": keep-alive\n\n")  # a comment: never content, never an event
        if behaviour == "rate_limited_in_band":
            self._event(stream.rate_limited())
            self._end()
            return
        chunks = min(target.content_chunks, stream.max_tokens or target.content_chunks)
        if behaviour in ("broken", "truncated", "stall", "malformed"):
            chunks = min(chunks, target.after_chunks)
        time.sleep(target.first_token_delay_s)
        for i in range(chunks):
            if i:
                time.sleep(target.token_interval_s)
            if i == chunks // 2:
                self._event(b": keep-alive\n\n")
            self._event(stream.content(_WORDS[i % len(_WORDS)]))
        if behaviour == "broken":
            self._event(stream.in_band_error())
        elif behaviour == "stall":
            self._stall(target)
            return
        elif behaviour == "malformed":
            self._event(stream.unparseable())
        if behaviour in ("complete", "malformed"):
            capped = chunks < target.content_chunks and chunks == stream.max_tokens
            for event in stream.closing(chunks * target.tokens_per_chunk, capped):
                self._event(event)
        self._end()

    def _event(self, data: bytes) -> None:
        """One SSE event (or comment) as one HTTP chunk, in one send."""
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))

    def _end(self) -> None:
        self._last_write(b"0\r\n\r\n")

    def _stall(self, target: ProtocolTarget) -> None:
        """Silence (or only keep-alive comments) until the client leaves, the target stops
        or `stall_max_s` passes; then the connection closes without ending the body."""
        self.close_connection = True
        deadline = time.monotonic() + target.stall_max_s
        keepalive = target.stall_keepalive_s
        next_comment = time.monotonic() + keepalive if keepalive else None
        while not target._closing.is_set():
            now = time.monotonic()
            if now >= deadline:
                return
            wake = min(deadline, next_comment) if next_comment else deadline
            readable, _, _ = select.select([self.connection], [], [], min(0.2, max(0.0, wake - now)))
            if readable and not self.connection.recv(1, socket.MSG_PEEK):
                raise _Gone
            if next_comment is not None and time.monotonic() >= next_comment:
                self._event(b": keep-alive\n\n")
                next_comment += keepalive or 0.0


def _bearer(value: str | None) -> str | None:
    if value and value.lower().startswith("bearer "):
        return value[7:].strip()
    return None


def _openai_error(message: str, type_: str, *, param: str | None = None,
                  code: str | None = None) -> dict[str, Any]:
    return {"error": {"message": message, "type": type_, "param": param, "code": code}}


def _anthropic_error(type_: str, message: str) -> dict[str, Any]:
    return {"type": "error", "error": {"type": type_, "message": message}}


def _sse(data: object, event: str | None = None) -> bytes:
    text = data if isinstance(data, str) else json.dumps(data, separators=(",", ":"))
    return (f"event: {event}\n" if event else "").encode() + f"data: {text}\n\n".encode()


class _Stream:
    """What both protocols' answers need from the request."""

    def __init__(self, doc: dict[str, Any]) -> None:
        self.model = str(doc.get("model"))
        max_tokens = doc.get("max_tokens") or doc.get("max_completion_tokens")
        self.max_tokens = max_tokens if isinstance(max_tokens, int) and max_tokens > 0 else None
        options = doc.get("stream_options")
        self.include_usage = isinstance(options, dict) and options.get("include_usage") is True
        self.id = f"{time.monotonic_ns():x}"
        self.streaming = doc.get("stream") is True


class _OpenAIStream(_Stream):
    def _chunk(self, delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "id": f"chatcmpl-{self.id}", "object": "chat.completion.chunk", "created": int(time.time()),
            "model": self.model, "system_fingerprint": "fp_test",
            "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
        }
        if self.include_usage:
            doc["usage"] = None
        return doc

    def opening(self) -> list[bytes]:
        return [_sse(self._chunk({"role": "assistant", "content": "", "refusal": None}))]

    def content(self, text: str) -> bytes:
        return _sse(self._chunk({"content": text}))

    def closing(self, tokens: int, capped: bool) -> list[bytes]:
        events = [_sse(self._chunk({}, "length" if capped else "stop"))]
        if self.include_usage:
            events.append(_sse({
                "id": f"chatcmpl-{self.id}", "object": "chat.completion.chunk",
                "created": int(time.time()), "model": self.model, "system_fingerprint": "fp_test",
                "choices": [], "usage": {"prompt_tokens": 9, "completion_tokens": tokens,
                                         "total_tokens": 9 + tokens},
            }))
        return [*events, _sse("[DONE]")]

    def message(self, text: str, tokens: int) -> dict[str, Any]:
        return {"id": f"chatcmpl-{self.id}", "object": "chat.completion", "created": int(time.time()),
                "model": self.model, "choices": [{
                    "index": 0, "message": {"role": "assistant", "content": text, "refusal": None},
                    "logprobs": None, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 9, "completion_tokens": tokens, "total_tokens": 9 + tokens}}

    def in_band_error(self) -> bytes:
        return _sse(_openai_error("The server had an error while processing your request. "
                                  "Sorry about that!", "server_error"))

    def rate_limited(self) -> bytes:
        return _sse(_openai_error("Rate limit reached for requests", "requests",
                                  code="rate_limit_exceeded"))

    def overloaded(self) -> dict[str, Any]:
        return _openai_error("The server is overloaded or not ready yet.", "server_error")

    def unparseable(self) -> bytes:
        return f'data: {{"id":"chatcmpl-{self.id}","choices":[{{"delta":{{"content":"x\n\n'.encode()


class _AnthropicStream(_Stream):
    def opening(self) -> list[bytes]:
        message = {"id": f"msg_{self.id}", "type": "message", "role": "assistant", "model": self.model,
                   "content": [], "stop_reason": None, "stop_sequence": None,
                   "usage": {"input_tokens": 9, "output_tokens": 1}}
        return [_sse({"type": "message_start", "message": message}, "message_start"),
                _sse({"type": "content_block_start", "index": 0,
                      "content_block": {"type": "text", "text": ""}}, "content_block_start"),
                _sse({"type": "ping"}, "ping")]

    def content(self, text: str) -> bytes:
        return _sse({"type": "content_block_delta", "index": 0,
                     "delta": {"type": "text_delta", "text": text}}, "content_block_delta")

    def closing(self, tokens: int, capped: bool) -> list[bytes]:
        return [
            _sse({"type": "content_block_stop", "index": 0}, "content_block_stop"),
            _sse({"type": "message_delta",
                  "delta": {"stop_reason": "max_tokens" if capped else "end_turn", "stop_sequence": None},
                  "usage": {"output_tokens": tokens}}, "message_delta"),
            _sse({"type": "message_stop"}, "message_stop"),
        ]

    def message(self, text: str, tokens: int) -> dict[str, Any]:
        return {"id": f"msg_{self.id}", "type": "message", "role": "assistant", "model": self.model,
                "content": [{"type": "text", "text": text}], "stop_reason": "end_turn",
                "stop_sequence": None, "usage": {"input_tokens": 9, "output_tokens": tokens}}

    def in_band_error(self) -> bytes:
        return _sse(_anthropic_error("overloaded_error", "Overloaded"), "error")

    def rate_limited(self) -> bytes:
        return _sse(_anthropic_error("rate_limit_error", "Number of request tokens has exceeded "
                                     "your per-minute rate limit"), "error")

    def overloaded(self) -> dict[str, Any]:
        return _anthropic_error("overloaded_error", "Overloaded")

    def unparseable(self) -> bytes:
        return b'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{\n\n'


@contextmanager
def running_target(**options: Any) -> Iterator[ProtocolTarget]:
    with ProtocolTarget(**options) as target:
        yield target
