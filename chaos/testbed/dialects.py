"""The client-facing chat dialects: request parsing, error bodies and stream encoding of the
testbed's own `/api/chat` and of the OpenAI-compatible `/v1/chat/completions`.

The gateway and the router call these and nothing else to read chat bodies or write chat streams
and errors; a dialect is stateless, its `ChatStream` holds one answer's pre-encoded parts.
"""

from __future__ import annotations

import json
import time
import uuid
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Literal

FinishReason = Literal["stop", "length"]

_MESSAGES = {
    "unsupported_media_type": "content-type must be application/json",
    "invalid_token": "invalid or missing bearer token",
    "bad_request": "invalid request body",
    "waf_blocked": "the message was blocked by the web application firewall",
    "redis_unavailable": "the admission store is unavailable",
    "rate_limited": "rate limit reached for this subject",
    "overloaded": "too many requests in flight",
    "queue_timeout": "no provider capacity within the queue bound",
    "provider_unavailable": "no provider route is available",
    "gateway_unhealthy": "no healthy region",
    "payload_too_large": "request body too large",
    "method_not_allowed": "method not allowed",
    "not_found": "not found",
}


class BadChatRequest(Exception):
    """The body is not a chat request of the dialect; `param` names the offending field."""

    def __init__(self, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.param = param


@dataclass(frozen=True)
class ChatRequest:
    """What the gateway needs of a chat request, whatever its dialect."""

    message: str  # the text judged by the WAF (the last user message)
    model: str = "testbed"
    max_tokens: int | None = None  # cap on the tokens relayed (None: the provider's count)
    include_usage: bool = False
    prompt_tokens: int = 0  # whitespace-separated words of every message


class ChatStream(ABC):
    """The bytes of one streamed answer, in the dialect's wire format."""

    # False: a provider stream that ends without [DONE] is passed on as it is (truncated),
    # as a gateway that does not check for the completion marker does.
    notices_truncation: bool

    @abstractmethod
    def open(self) -> bytes:
        """Sent before the first token (may be empty)."""

    @abstractmethod
    def token(self, content: str) -> bytes:
        """One content event."""

    @abstractmethod
    def finish(self, reason: FinishReason, completion_tokens: int) -> bytes:
        """The end of a complete answer, completion marker included."""


class Dialect(ABC):
    """One client-facing wire format."""

    name: str

    @abstractmethod
    def parse(self, body: object) -> ChatRequest:
        """The chat request in a decoded JSON body (None when it was not JSON); raises BadChatRequest."""

    @abstractmethod
    def error_body(self, status: int, code: str, **extra: object) -> object:
        """The JSON body of an HTTP error answer whose testbed code is `code`."""

    @abstractmethod
    def bad_request_body(self, exc: BadChatRequest) -> object:
        """The JSON body of the 400 answer to an invalid chat request."""

    @abstractmethod
    def error_event(self, code: str, message: str) -> bytes:
        """The in-band error event that ends a broken 200 stream (no completion marker)."""

    @abstractmethod
    def stream(self, request: ChatRequest) -> ChatStream:
        """An encoder for the answer to `request`."""


# -- the testbed's own dialect -------------------------------------------------------------------
class _TestbedStream(ChatStream):
    notices_truncation = True

    def open(self) -> bytes:
        return b""

    def token(self, content: str) -> bytes:
        return b'data: {"token": ' + json.dumps(content).encode() + b"}\n\n"

    def finish(self, reason: FinishReason, completion_tokens: int) -> bytes:
        return b"data: [DONE]\n\n"


class TestbedDialect(Dialect):
    """`POST /api/chat` `{"message": ...}`: `data: {"token": ...}` events, then `data: [DONE]`;
    errors `{"error": "<code>"}`; a broken stream ends with `event: error`."""

    __test__ = False  # not a pytest test class despite the name
    name = "testbed"

    def parse(self, body: object) -> ChatRequest:
        message = body.get("message") if isinstance(body, dict) else None
        if not isinstance(message, str):
            raise BadChatRequest("missing 'message'", "message")
        return ChatRequest(message=message, prompt_tokens=len(message.split()))

    def error_body(self, status: int, code: str, **extra: object) -> object:
        return {"error": code, **extra}

    def bad_request_body(self, exc: BadChatRequest) -> object:
        return {"error": "bad_request"}

    def error_event(self, code: str, message: str) -> bytes:
        return b"event: error\ndata: " + json.dumps({"error": code}).encode() + b"\n\n"

    def stream(self, request: ChatRequest) -> ChatStream:
        return _TestbedStream()


# -- OpenAI chat completions ---------------------------------------------------------------------
def _compact(obj: object) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()


class _OpenAIStream(ChatStream):
    notices_truncation = False

    def __init__(self, request: ChatRequest) -> None:
        self._request = request
        head = {"id": f"chatcmpl-{uuid.uuid4().hex}", "object": "chat.completion.chunk",
                "created": int(time.time()), "model": request.model}
        self._head = _compact(head)[:-1]  # without its closing brace: choices follow
        # OpenAI sends `"usage":null` on every chunk but the last when usage was asked for.
        usage = b',"usage":null' if request.include_usage else b""
        self._token_prefix = b"data: " + self._head + b',"choices":[{"index":0,"delta":{"content":'
        self._token_suffix = b'},"finish_reason":null}]' + usage + b"}\n\n"
        self._usage_null = usage

    def open(self) -> bytes:
        return (b"data: " + self._head + b',"choices":[{"index":0,"delta":{"role":"assistant",'
                b'"content":""},"finish_reason":null}]' + self._usage_null + b"}\n\n")

    def token(self, content: str) -> bytes:
        return self._token_prefix + json.dumps(content).encode() + self._token_suffix

    def finish(self, reason: FinishReason, completion_tokens: int) -> bytes:
        out = (b"data: " + self._head + b',"choices":[{"index":0,"delta":{},"finish_reason":'
               + json.dumps(reason).encode() + b"}]" + self._usage_null + b"}\n\n")
        if self._request.include_usage:
            prompt = self._request.prompt_tokens
            usage = {"prompt_tokens": prompt, "completion_tokens": completion_tokens,
                     "total_tokens": prompt + completion_tokens}
            out += b"data: " + self._head + b',"choices":[],"usage":' + _compact(usage) + b"}\n\n"
        return out + b"data: [DONE]\n\n"


def _text(content: object) -> str | None:
    """A message's text: a string, or the text parts of a content-part list; else None."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = [p.get("text") for p in content if isinstance(p, dict) and p.get("type") == "text"]
        if len(parts) == len(content) and all(isinstance(t, str) for t in parts):
            return "\n".join(t for t in parts if isinstance(t, str))
    return None


def _error_type(status: int) -> str:
    if status == 429:
        return "rate_limit_error"
    return "invalid_request_error" if 400 <= status < 500 else "server_error"


class OpenAIDialect(Dialect):
    """`POST /v1/chat/completions` with `"stream": true`: chat.completion.chunk events (role
    chunk, content chunks, finish chunk, usage chunk on request), then `data: [DONE]`; errors
    `{"error": {"message", "type", "code"}}`, in-band as a `data:` event."""

    name = "openai"

    def parse(self, body: object) -> ChatRequest:
        if not isinstance(body, dict):
            raise BadChatRequest("the request body must be a JSON object")
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            raise BadChatRequest("missing 'messages'", "messages")
        texts: list[str] = []
        last_user: str | None = None
        for i, m in enumerate(messages):
            role = m.get("role") if isinstance(m, dict) else None
            if not isinstance(role, str):
                raise BadChatRequest(f"messages[{i}] needs a 'role'", "messages")
            text = _text(m.get("content"))
            if text is None and (role == "user" or m.get("content") is not None):
                raise BadChatRequest(f"messages[{i}].content must be a string or text parts",
                                     "messages")
            if text is not None:
                texts.append(text)
                if role == "user":
                    last_user = text
        if last_user is None:
            raise BadChatRequest("'messages' holds no user message", "messages")
        model = body.get("model")
        if not isinstance(model, str) or not model:
            raise BadChatRequest("missing 'model'", "model")
        if body.get("stream") is not True:
            raise BadChatRequest("only streamed completions are served: set 'stream': true", "stream")
        max_tokens = body.get("max_tokens")
        if max_tokens is not None and (not isinstance(max_tokens, int) or isinstance(max_tokens, bool)
                                       or max_tokens < 1):
            raise BadChatRequest("'max_tokens' must be an integer >= 1", "max_tokens")
        options = body.get("stream_options")
        include_usage = options.get("include_usage", False) if isinstance(options, dict) else None
        if options is not None and not isinstance(include_usage, bool):
            raise BadChatRequest("'stream_options.include_usage' must be a boolean", "stream_options")
        return ChatRequest(message=last_user, model=model, max_tokens=max_tokens,
                           include_usage=bool(include_usage),
                           prompt_tokens=sum(len(t.split()) for t in texts))

    def error_body(self, status: int, code: str, **extra: object) -> object:
        """OpenAI's error object; `extra` (the testbed dialect's additions) has no place in it."""
        return {"error": {"message": _MESSAGES.get(code, code.replace("_", " ")),
                          "type": _error_type(status), "code": code}}

    def bad_request_body(self, exc: BadChatRequest) -> object:
        return {"error": {"message": exc.message, "type": "invalid_request_error",
                          "param": exc.param, "code": None}}

    def error_event(self, code: str, message: str) -> bytes:
        body = {"error": {"message": message, "type": "server_error", "code": code}}
        return b"data: " + json.dumps(body).encode() + b"\n\n"

    def stream(self, request: ChatRequest) -> ChatStream:
        return _OpenAIStream(request)


TESTBED = TestbedDialect()
OPENAI = OpenAIDialect()


def dialect_for(path: str) -> Dialect:
    """The dialect of a request path: OpenAI under `/v1/`, the testbed's own elsewhere."""
    return OPENAI if path.startswith("/v1/") else TESTBED
