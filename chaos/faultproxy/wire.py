"""What a fault looks like on the upstream's wire: error bodies and in-band error events in
the OpenAI or Anthropic dialect, and which stream events carry content (read through the
protocol profiles of `chaos.protocols`, the one owner of stream classification)."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Literal

from chaos.protocols import AnthropicProfile, OpenAIProfile
from chaos.protocols.stream import CONTENT, DONE, EventVerdict

ProxyProtocol = Literal["openai", "anthropic"]
PROTOCOLS: tuple[ProxyProtocol, ...] = ("openai", "anthropic")
# Requests whose path ends with one of these are faultable (POST only): the chat endpoints.
DEFAULT_FAULT_PATHS: dict[ProxyProtocol, tuple[str, ...]] = {
    "openai": ("/chat/completions", "/completions", "/responses"),
    "anthropic": ("/messages",),
}
# Event kinds the stream fault acts on (everything else is forwarded as it came).
EVENT_CONTENT, EVENT_DONE, EVENT_OTHER = 1, 2, 0

_OPENAI_HTTP = {
    429: ("Rate limit reached for requests (injected by the chaos fault proxy).", "requests",
          "rate_limit_exceeded"),
    500: ("The server had an error while processing your request (injected by the chaos "
          "fault proxy).", "server_error", None),
    503: ("The server is overloaded or not ready yet (injected by the chaos fault proxy).",
          "server_error", None),
}
_ANTHROPIC_HTTP = {429: "rate_limit_error", 500: "api_error", 503: "overloaded_error",
                   529: "overloaded_error"}


@dataclass(frozen=True, slots=True)
class Wire:
    """One upstream dialect: how its errors are written and how its events are read."""

    protocol: ProxyProtocol

    def http_error(self, status: int, retry_after_s: float | None) -> tuple[bytes, list[tuple[bytes, bytes]]]:
        """The body and headers of an HTTP fault answer, as the real API writes them."""
        if self.protocol == "anthropic":
            kind = _ANTHROPIC_HTTP.get(status, "invalid_request_error" if status < 500 else "api_error")
            doc: dict[str, object] = {"type": "error", "error": {
                "type": kind, "message": f"{kind} (injected by the chaos fault proxy)"}}
        else:
            message, kind, code = _OPENAI_HTTP.get(status, (
                f"HTTP {status} (injected by the chaos fault proxy).",
                "invalid_request_error" if status < 500 else "server_error", None))
            doc = {"error": {"message": message, "type": kind, "param": None, "code": code}}
        headers = [(b"content-type", b"application/json")]
        if retry_after_s is not None:  # whole seconds, at least 1, as APIs send it
            headers.append((b"retry-after", str(max(1, math.ceil(retry_after_s))).encode()))
        return json.dumps(doc).encode(), headers

    def error_event(self, code: str) -> bytes:
        """An in-band error event: OpenAI `data: {"error": ...}`, Anthropic `event: error`."""
        if self.protocol == "anthropic":
            doc = {"type": "error", "error": {"type": code, "message": "Overloaded"}}
            return b"event: error\ndata: " + json.dumps(doc).encode() + b"\n\n"
        body = {"error": {"message": "Overloaded", "type": code, "code": code}}
        return b"data: " + json.dumps(body).encode() + b"\n\n"

    def event_kind(self, name: bytes | None, data: bytes) -> int:
        """EVENT_CONTENT, EVENT_DONE (the completion marker) or EVENT_OTHER."""
        verdict: EventVerdict = _CLASSIFY[self.protocol](name, data)
        if verdict[0] == CONTENT:
            return EVENT_CONTENT
        return EVENT_DONE if verdict[0] == DONE else EVENT_OTHER


_CLASSIFY = {
    "openai": OpenAIProfile(model="").classify,
    "anthropic": AnthropicProfile(model="").classify,
}
