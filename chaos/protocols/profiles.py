"""Protocol profiles: how a request is built from the drill, and what each stream event means.

One profile per wire format: `openai` (chat completions), `anthropic` (messages) and
`custom` (a JSON body template, a completion rule, error and content matchers). A profile
is plain data plus pure functions, picklable, so load workers in other processes get the
same one. `custom` with its defaults is the embedded testbed's own `/api/chat` dialect.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Literal

import msgspec
from pydantic_core import from_json

from chaos.protocols.sse import Scan, ScanVerdict, split_data_events
from chaos.protocols.stream import (
    CONTENT,
    DONE,
    ERROR,
    IGNORE,
    MALFORMED,
    EventVerdict,
    StreamState,
    error_object_code,
)

ProtocolName = Literal["openai", "anthropic", "custom"]
# pydantic-core's parser (jiter, already a dependency through pydantic): bytes in, about 4x
# json.loads on a 150-byte chunk (the stdlib's Python wrapper costs more than its parse). Same
# contract for a stream: ValueError on bad JSON or bad UTF-8, the last duplicate key wins.
_loads = from_json
_IGNORED: EventVerdict = (IGNORE, None, None, None)
_DONE: EventVerdict = (DONE, None, None, None)
_UNPARSEABLE: EventVerdict = (MALFORMED, "unparseable_chunk", None, None)


def _json_string(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


def _non_negative_int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


@dataclass(frozen=True, slots=True)
class Request:
    """What a profile puts on the wire besides the request line and Host."""

    body: bytes
    headers: tuple[tuple[str, str], ...]


class _Delta(msgspec.Struct):
    content: Any = None
    reasoning_content: Any = None
    reasoning: Any = None
    tool_calls: Any = None
    function_call: Any = None


class _Choice(msgspec.Struct):
    delta: _Delta | None = None
    finish_reason: str | None = None


class _Chunk(msgspec.Struct):
    choices: list[_Choice] | None = None
    usage: Any = None
    error: Any = None


# The fast path's decoder (msgspec): typed, so the fields a verdict does not read (id, model,
# logprobs, ...) are skipped in C, about 2.5x faster than parsing whole chunks. It is stricter
# than `_loads` (NaN, 1e400, a delta that is not an object are errors) but does not check the
# UTF-8 of keys and values it skips, so that is checked first: anything either refuses goes
# the one-event-at-a-time way, which has the last word.
_decode_chunk = msgspec.json.Decoder(_Chunk).decode
_DECODE_ERRORS = (msgspec.DecodeError, UnicodeDecodeError)


def _openai_scan_py(pending: bytes, data: bytes) -> ScanVerdict | None:
    """`OpenAIProfile.classify` over the whole data events of `pending` plus `data`, summed
    (see `chaos.protocols.sse.Scan`); None when they are not only single-line data events,
    and at the first that is an error, malformed or a marker before the end. The C module
    `_scan` has the same function, faster (`openai`); this one runs where it is not built."""
    split = split_data_events(pending, data)
    if split is None:
        return None
    payloads, rest = split
    done = payloads[-1] == b"[DONE]"
    content = 0
    first: str | None = None
    tokens: int | None = None
    finish: str | None = None
    for i in range(len(payloads) - done):
        payload = payloads[i]
        try:
            if not payload.isascii():
                payload.decode()  # msgspec does not check the UTF-8 of what it skips
            chunk = _decode_chunk(payload)
        except _DECODE_ERRORS:
            return None
        if chunk.error is not None:
            return None
        usage = chunk.usage
        used = _non_negative_int(usage.get("completion_tokens")) if type(usage) is dict else None
        if used is not None:
            tokens = used
        choices = chunk.choices
        if choices is None:
            if used is None:
                return None  # no_choices: malformed
            continue  # a usage-only chunk
        if len(choices) == 1:  # the common shape, as `classify` takes it first
            choice = choices[0]
            delta = choice.delta
            if delta is not None and delta.content and choice.finish_reason is None:
                content += 1
                if first is None:
                    first = "content"
                continue
        kind: str | None = None
        for choice in choices:
            reason = choice.finish_reason
            if reason is not None:
                finish = reason
            delta = choice.delta
            if delta is None:
                continue
            if delta.content:
                kind = "content"
            elif kind is None and (delta.reasoning_content or delta.reasoning):
                kind = "reasoning"
            elif kind is None and (delta.tool_calls or delta.function_call):
                kind = "tool_call"
        if kind is not None:
            content += 1
            if first is None:
                first = kind
    return len(payloads), content, first, tokens, finish, done, rest


_compiled: Any
try:  # the compiled fast paths (setup.py; optional: a machine without a C compiler has none)
    from chaos.protocols import _scan as _compiled
except ImportError:  # pragma: no cover - exercised where the module is not built
    _compiled = None
_openai_scan: Scan = _openai_scan_py if _compiled is None else _compiled.openai
OPENAI_FAST_PATH = "python" if _compiled is None else "c"


@dataclass(frozen=True, slots=True)
class OpenAIProfile:
    """OpenAI-compatible `/v1/chat/completions` with `stream: true`.

    Complete only on `data: [DONE]`; a data line holding an `error` object, at any point, is
    an in-band error (code: its `code`, else its `type`); comment lines and role-only or
    usage-only chunks are not content; `delta.content`, reasoning and tool-call deltas are.
    """

    model: str
    max_tokens: int | None = None
    include_usage: bool = True
    name: ProtocolName = "openai"
    default_path: str = "/v1/chat/completions"

    def request(self, payload: str, subject: str, token: str | None) -> Request:
        del subject  # the subject travels in the token
        doc: dict[str, Any] = {
            "model": self.model, "messages": [{"role": "user", "content": payload}], "stream": True,
        }
        if self.max_tokens is not None:
            doc["max_tokens"] = self.max_tokens
        if self.include_usage:
            doc["stream_options"] = {"include_usage": True}
        headers = (("Authorization", f"Bearer {token}"),) if token else ()
        return Request(json.dumps(doc, ensure_ascii=False).encode(), headers)

    def classify(self, name: bytes | None, data: bytes) -> EventVerdict:
        # Per event on the load driver's hot path: `type(x) is` checks and the common shape
        # (one choice with a non-empty content delta) first.
        if data == b"[DONE]":
            return _DONE
        if name == b"error":
            return _error_event(data)
        try:
            doc = _loads(data)
        except (ValueError, UnicodeDecodeError):
            return _UNPARSEABLE
        if type(doc) is not dict:
            return _UNPARSEABLE
        get = doc.get
        err = get("error")
        if err is not None:
            return (ERROR, error_object_code(err), None, None)
        usage = get("usage")
        tokens = (_non_negative_int(usage.get("completion_tokens")) if type(usage) is dict
                  else None)
        choices = get("choices")
        if type(choices) is not list:
            if tokens is not None and choices is None:
                return (IGNORE, None, tokens, None)  # a usage-only chunk without choices
            return (MALFORMED, "no_choices", None, None)
        if len(choices) == 1:
            choice = choices[0]
            if type(choice) is dict:
                delta = choice.get("delta")
                reason = choice.get("finish_reason")
                if type(delta) is dict and delta.get("content") and reason is None:
                    return (CONTENT, "content", tokens, None)
        kind: str | None = None
        finish: str | None = None
        for choice in choices:
            if type(choice) is not dict:
                return (MALFORMED, "bad_choice", None, None)
            reason = choice.get("finish_reason")
            if type(reason) is str:
                finish = reason
            delta = choice.get("delta")
            if type(delta) is not dict:
                continue
            if delta.get("content"):
                kind = "content"
            elif kind is None and (delta.get("reasoning_content") or delta.get("reasoning")):
                kind = "reasoning"
            elif kind is None and (delta.get("tool_calls") or delta.get("function_call")):
                kind = "tool_call"
        return ((CONTENT if kind else IGNORE), kind, tokens, finish)

    def stream(self) -> StreamState:
        return StreamState(self.classify, _openai_scan)


@dataclass(frozen=True, slots=True)
class AnthropicProfile:
    """Anthropic `/v1/messages` with `stream: true`: complete only on `event: message_stop`;
    `event: error` is an in-band error with its `error.type`; `ping` is ignored; content
    comes from `content_block_delta` (text, thinking and tool-input deltas)."""

    model: str
    max_tokens: int = 256
    version: str = "2023-06-01"
    name: ProtocolName = "anthropic"
    default_path: str = "/v1/messages"

    def request(self, payload: str, subject: str, token: str | None) -> Request:
        del subject
        doc = {"model": self.model, "max_tokens": self.max_tokens, "stream": True,
               "messages": [{"role": "user", "content": payload}]}
        headers: tuple[tuple[str, str], ...] = (("anthropic-version", self.version),)
        if token:
            headers += (("x-api-key", token),)
        return Request(json.dumps(doc, ensure_ascii=False).encode(), headers)

    def classify(self, name: bytes | None, data: bytes) -> EventVerdict:
        if name == b"ping":
            return _IGNORED
        try:
            doc = _loads(data)
        except (ValueError, UnicodeDecodeError):
            return _UNPARSEABLE
        if not isinstance(doc, dict):
            return _UNPARSEABLE
        kind = name.decode("utf-8", "replace") if name is not None else doc.get("type")
        if kind == "content_block_delta":
            delta = doc.get("delta")
            if not isinstance(delta, dict):
                return (MALFORMED, "bad_delta", None, None)
            dtype = delta.get("type")
            if dtype == "text_delta" and delta.get("text"):
                return (CONTENT, "content", None, None)
            if dtype == "thinking_delta" and delta.get("thinking"):
                return (CONTENT, "reasoning", None, None)
            if dtype == "input_json_delta" and delta.get("partial_json"):
                return (CONTENT, "tool_call", None, None)
            return _IGNORED
        if kind == "message_delta":
            usage = doc.get("usage")
            delta = doc.get("delta")
            reason = delta.get("stop_reason") if isinstance(delta, dict) else None
            tokens = _non_negative_int(usage.get("output_tokens")) if isinstance(usage, dict) else None
            return (IGNORE, None, tokens, reason if isinstance(reason, str) else None)
        if kind == "message_stop":
            return _DONE
        if kind == "error":
            return (ERROR, error_object_code(doc.get("error", doc)), None, None)
        return _IGNORED  # message_start, content_block_start/stop, and events added later

    def stream(self) -> StreamState:
        return StreamState(self.classify, None if _compiled is None else _compiled.anthropic)


@dataclass(frozen=True)
class CustomProfile:
    """A custom SSE chat endpoint. The defaults are the embedded testbed's `/api/chat`.

    `body` is a JSON template whose placeholders `{payload}`, `{subject}` and `{model}` are
    replaced by JSON strings (quotes included). Complete when a data line equals `done_data`
    or an event is named `done_event`. An in-band error is an event named in `error_events`
    or a data line whose `error_pointer` (a JSON pointer) holds a value that is not null or
    false; its code is that value (or its `code`/`type`). Content is an event named in
    `content_events` or, with `content_pointer`, a data line whose pointer holds a non-empty
    value; with neither, every other data event is content.
    """

    body: str = '{"message": {payload}}'
    done_data: str | None = "[DONE]"
    done_event: str | None = None
    error_events: tuple[str, ...] = ("error",)
    error_pointer: str | None = "/error"
    content_events: tuple[str, ...] = ()
    content_pointer: str | None = "/token"
    usage_pointer: str | None = None
    model: str | None = None
    auth_header: str = "Authorization"
    auth_scheme: str = "Bearer"
    name: ProtocolName = "custom"
    default_path: str = "/api/chat"
    @cached_property
    def _error_key(self) -> str | None:
        return _single_key(self.error_pointer)

    @cached_property
    def _content_key(self) -> str | None:
        return _single_key(self.content_pointer)

    @cached_property
    def _error_names(self) -> frozenset[bytes]:
        return frozenset(n.encode() for n in self.error_events)

    @cached_property
    def _content_names(self) -> frozenset[bytes]:
        return frozenset(n.encode() for n in self.content_events)

    @cached_property
    def _done_data(self) -> bytes | None:
        return None if self.done_data is None else self.done_data.encode()

    @cached_property
    def _done_event(self) -> bytes | None:
        return None if self.done_event is None else self.done_event.encode()

    @cached_property
    def _scan(self) -> Scan | None:
        """The compiled fast path for this profile's rules, where they are ones it reads:
        unnamed data events only (no `content_events`), one-segment pointers for content,
        error and usage. Else None: every event goes through `classify`."""
        usage_key = _single_key(self.usage_pointer)
        if (_compiled is None or self.content_events or self._content_key is None
                or (self.error_pointer and self._error_key is None)
                or (self.usage_pointer and usage_key is None)):
            return None
        return functools.partial(  # the rules bound once; (pending, data) per read
            _compiled.custom, self._done_data,
            self._error_key.encode() if self._error_key else None,
            self._content_key.encode(), usage_key.encode() if usage_key else None,
        )

    def render_body(self, payload: str, subject: str) -> bytes:
        text = (self.body.replace("{payload}", _json_string(payload))
                .replace("{subject}", _json_string(subject))
                .replace("{model}", _json_string(self.model or "")))
        return text.encode("utf-8")

    def request(self, payload: str, subject: str, token: str | None) -> Request:
        headers: tuple[tuple[str, str], ...] = ()
        if token:
            value = f"{self.auth_scheme} {token}" if self.auth_scheme else token
            headers = ((self.auth_header, value),)
        return Request(self.render_body(payload, subject), headers)

    def classify(self, name: bytes | None, data: bytes) -> EventVerdict:
        if self._done_data is not None and data == self._done_data:
            return _DONE
        if self._done_event is not None and name == self._done_event:
            return _DONE
        if name is not None and name in self._error_names:
            return _error_event(data)
        needs_json = self.error_pointer or self.content_pointer or self.usage_pointer
        doc: object = None
        if needs_json:
            try:
                doc = _loads(data)
            except (ValueError, UnicodeDecodeError):
                if self.content_pointer or not (name is not None and name in self._content_names):
                    return _UNPARSEABLE
        tokens = None
        if self.usage_pointer:
            tokens = _non_negative_int(resolve_pointer(doc, self.usage_pointer))
        if self.error_pointer:
            err = _lookup(doc, self._error_key, self.error_pointer)
            if err is not None and err is not False:
                return (ERROR, error_object_code(err), None, None)
        if self._content_names:
            is_content = name is not None and name in self._content_names
        elif self.content_pointer:
            is_content = bool(_lookup(doc, self._content_key, self.content_pointer))
        else:
            is_content = True
        return ((CONTENT, "content", tokens, None) if is_content else (IGNORE, None, tokens, None))

    def stream(self) -> StreamState:
        return StreamState(self.classify, self._scan)


Profile = OpenAIProfile | AnthropicProfile | CustomProfile


def _error_event(data: bytes) -> EventVerdict:
    """An event named `error`: its code from the data when it parses, else `error`."""
    try:
        doc = _loads(data) if data else None
    except (ValueError, UnicodeDecodeError):
        doc = None
    code = error_object_code(doc.get("error", doc)) if isinstance(doc, dict) else None
    return (ERROR, code or "error", None, None)


def _single_key(pointer: str | None) -> str | None:
    """The key of a one-segment pointer without escapes ("/error" -> "error"), else None."""
    if not pointer or pointer.count("/") != 1 or not pointer.startswith("/") or "~" in pointer:
        return None
    return pointer[1:] or None


def _lookup(doc: object, key: str | None, pointer: str) -> object:
    """`pointer` in `doc`: one dict lookup for a one-segment pointer (the hot path)."""
    if key is not None:
        return doc.get(key) if type(doc) is dict else None
    return resolve_pointer(doc, pointer)


def resolve_pointer(doc: object, pointer: str) -> object:
    """RFC 6901 JSON pointer lookup; None where the path does not exist."""
    if pointer in ("", "/"):
        return doc
    node = doc
    for raw in pointer.lstrip("/").split("/"):
        token = raw.replace("~1", "/").replace("~0", "~")
        if isinstance(node, dict):
            node = node.get(token)
        elif isinstance(node, list) and token.isdigit() and int(token) < len(node):
            node = node[int(token)]
        else:
            return None
    return node

