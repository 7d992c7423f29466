"""One response stream read through a protocol profile: what arrived when, and how it ended.

`StreamState` is fed body bytes with the instant they arrived (the caller's clock: the
load driver's monotonic reads, the canary's own) and keeps only instants, counts and
short codes, never content. `classify_outcome` turns a finished exchange into exactly one
outcome class of the measurement contract (DESIGN section 4).
"""

from __future__ import annotations

import json
from collections.abc import Callable

from chaos.protocols.sse import Scan, SseDecoder

# What a profile says of one event: (kind, detail, usage output tokens, finish reason).
IGNORE, CONTENT, DONE, ERROR, MALFORMED = 0, 1, 2, 3, 4
EventVerdict = tuple[int, str | None, int | None, str | None]
Classifier = Callable[[bytes | None, bytes], EventVerdict]
# A profile's fast path (`Scan`, chaos.protocols.sse) reads a run of unnamed data events that
# holds no error, no malformed chunk and no completion marker but possibly as the last event;
# anything else it leaves to the `Classifier`, one event at a time.

_HEAD_BYTES = 4096  # of the raw body, for a 2xx that is not an event stream (a JSON error)
_RATE_LIMIT_CODES = frozenset({
    "rate_limit_error", "rate_limit_exceeded", "rate_limited", "too_many_requests", "429",
    "requests", "tokens", "insufficient_quota",
})


class StreamState:
    """The state of one 2xx response body; `reset()` between requests on one connection.

    Instants are whatever clock the caller passes to `feed` (a number per read). Invariant:
    the first failure decides (an error event or a malformed chunk); later events only
    count, except that any event after the completion marker makes the stream malformed.
    """

    __slots__ = (
        "_classify", "_head", "_now", "_scan", "_sse", "content_chunks", "done_at",
        "error_before_content", "error_code", "error_data", "events", "finish_reason", "first_content_at", "first_kind",
        "gaps_us", "last_content_at", "last_event_at", "malformed", "usage_tokens",
    )

    def __init__(self, classify: Classifier, scan: Scan | None = None) -> None:
        self._classify = classify
        self._scan = scan
        self._sse = SseDecoder(self._on_event)
        self.reset()

    def reset(self) -> None:
        sse = self._sse  # SseDecoder.reset, inline: once per request on the hot path
        sse.buf, sse.cr, sse.comments, sse.overflow = b"", False, 0, False
        self._head = b""
        self._now = 0.0
        self.events = 0
        self.content_chunks = 0
        self.first_content_at: float | None = None
        self.first_kind: str | None = None  # content, reasoning or tool_call
        self.last_content_at: float | None = None
        self.last_event_at: float | None = None
        self.gaps_us: list[int] = []  # between successive reads that carried content
        self.usage_tokens: int | None = None
        self.finish_reason: str | None = None
        self.done_at: float | None = None
        self.error_code: str | None = None
        self.error_data: bytes | None = None  # the error event's data (first KB), for one line
        self.error_before_content = False
        self.malformed: str | None = None

    def feed(self, data: bytes, now: float) -> None:
        self._now = now
        scan, sse = self._scan, self._sse
        # The load driver's fast path (inline: it runs once per read): a read of whole
        # single-line data events that the profile's `Scan` judges in one call, with the
        # same result as one event at a time; when it cannot, it changes nothing.
        if (scan is not None and not sse.cr and not sse.overflow and self.done_at is None
                and self.error_code is None and self.malformed is None):
            verdict = scan(sse.buf, data)
            if verdict is not None:
                events, content, kind, tokens, finish, done, sse.buf = verdict  # buf: the rest
                self.events += events
                self.last_event_at = now
                if tokens is not None:
                    self.usage_tokens = tokens
                if finish is not None:
                    self.finish_reason = finish
                if content:
                    self.content_chunks += content
                    last = self.last_content_at
                    if last is None:
                        self.first_content_at = now
                        self.first_kind = kind
                    elif now != last:
                        self.gaps_us.append(int((now - last) * 1e6))
                    self.last_content_at = now
                if done:
                    self.done_at = now
                return  # events came, so the head is never read (see `finish`)
        if self.events == 0 and len(self._head) < _HEAD_BYTES:  # read only when no event came
            self._head += data[: _HEAD_BYTES - len(self._head)]
        sse.feed(data)
        if sse.overflow and self.malformed is None and self.error_code is None:
            self.malformed = "event_too_large"

    def finish(self, now: float) -> None:
        """The body ended (or the exchange did): dispatch a last unterminated event and
        judge a body that never read as an event stream."""
        self._now = now
        if self._sse.buf:
            self._sse.flush()
        if self.events == 0 and self.error_code is None and self.malformed is None:
            head = self._head.strip()
            if head:
                code = json_error_code(head)
                if code is not None:  # a 200 with a JSON error body
                    self.error_code, self.error_data = code, head[:1024]
                    self.error_before_content = True
                elif self._sse.comments == 0 or head[:1] != b":":
                    self.malformed = "not_an_event_stream"

    @property
    def output_tokens(self) -> int:
        """From the usage report where the target sent one, else content chunks."""
        return self.usage_tokens if self.usage_tokens is not None else self.content_chunks

    def _on_event(self, name: bytes | None, data: bytes) -> None:
        now = self._now
        self.events += 1
        self.last_event_at = now
        if self.done_at is not None:
            if self.malformed is None:
                self.malformed = "data_after_done"
            return
        if self.error_code is not None or self.malformed is not None:
            return
        kind, detail, usage, finish = self._classify(name, data)
        if usage is not None:
            self.usage_tokens = usage
        if finish is not None:
            self.finish_reason = finish
        if kind == CONTENT:
            self.content_chunks += 1
            last = self.last_content_at
            if last is None:
                self.first_content_at = now
                self.first_kind = detail
            elif now != last:
                self.gaps_us.append(int((now - last) * 1e6))
            self.last_content_at = now
        elif kind == DONE:
            self.done_at = now
        elif kind == ERROR:
            self.error_code = detail or "error"
            self.error_data = data[:1024]
            self.error_before_content = self.first_content_at is None
        elif kind == MALFORMED:
            self.malformed = detail or "malformed"


def is_rate_limit(code: str) -> bool:
    lowered = code.lower()
    return lowered in _RATE_LIMIT_CODES or "rate_limit" in lowered or "ratelimit" in lowered


def classify_outcome(
    status: int | None, failure: str | None, stream: StreamState | None,
) -> tuple[str, str | None]:
    """The outcome class of one ended request and its short code (or None).

    `failure` is how the exchange failed on the wire, if it did: connect, reset, timeout
    (first byte or total), protocol, stall (no event for the stall timeout after a 2xx
    head), closed (the body ended by EOF before its framing said). A 2xx answer is
    *complete* ("2xx") only when its stream met the completion rule and nothing broke it.
    """
    if status is None:
        return "transport", None
    if not 200 <= status < 300:
        return ("429" if status == 429 else "5xx" if status >= 500 else "4xx"), None
    if stream is None:
        return ("2xx", None) if failure is None else ("truncated", None)
    if stream.error_code is not None:
        code = stream.error_code
        if stream.error_before_content and is_rate_limit(code):
            return "429", code  # load shedding in-band, before any content: the 429 budget
        return "broken", code
    if stream.malformed is not None:
        return "malformed", stream.malformed
    if stream.done_at is not None:
        return "2xx", None
    if failure == "stall":
        return "stalled", None
    if failure in ("timeout", "protocol"):
        return "transport", None
    return "truncated", None


def json_error_code(body: bytes) -> str | None:
    """The short code of a JSON error document (`{"error": "x"}`, `{"error": {"code": ...}}`,
    `{"error": {"type": ...}}`, `{"type": "error", "error": {"type": ...}}`), else None."""
    try:
        doc = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(doc, dict) or "error" not in doc:
        return None
    return error_object_code(doc["error"])


def error_object_code(err: object) -> str | None:
    """A short code from an error value: a string, or an object's `code`, else its `type`."""
    if isinstance(err, dict):
        for key in ("code", "type", "status"):
            value = err.get(key)
            if isinstance(value, bool) or value is None:
                continue
            if isinstance(value, int):
                return str(value)
            if isinstance(value, str) and value:
                return short_code(value)
        return "error"
    if isinstance(err, str) and err:
        return short_code(err)
    if isinstance(err, int) and not isinstance(err, bool):
        return str(err)
    return None if err is None or err is False else "error"


def error_message(data: bytes | None) -> str | None:
    """The human message of an error document, at most 200 characters (for one line)."""
    if not data:
        return None
    try:
        doc = json.loads(data)
    except (ValueError, UnicodeDecodeError):
        return None
    err = doc.get("error", doc) if isinstance(doc, dict) else None
    message = err.get("message") if isinstance(err, dict) else None
    if not isinstance(message, str):
        return None
    return " ".join(message.split())[:200]


def short_code(text: str) -> str:
    """At most 64 printable characters, no spaces: a code, never content."""
    cleaned = "".join(c if c.isprintable() and not c.isspace() else "_" for c in text[:64])
    return cleaned or "error"
