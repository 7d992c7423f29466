"""Where a stream breaks: recorded OpenAI and Anthropic streams fed in every split."""

from __future__ import annotations

import json

import pytest

from chaos.faultproxy import StreamFault, Wire
from chaos.faultproxy.stream import EventSplitter, StreamBreaker
from chaos.protocols import AnthropicProfile, OpenAIProfile


def _openai(words: int, *, crlf: bool = False) -> bytes:
    def ev(doc: object) -> bytes:
        return b"data: " + json.dumps(doc).encode() + b"\n\n"

    out = ev({"choices": [{"delta": {"role": "assistant", "content": ""}}]}) + b": keep-alive\n\n"
    for i in range(words):
        out += ev({"choices": [{"delta": {"content": f"w{i} "}}]})
    out += ev({"choices": [{"delta": {}, "finish_reason": "stop"}]}) + b"data: [DONE]\n\n"
    return out.replace(b"\n", b"\r\n") if crlf else out


def _anthropic(words: int) -> bytes:
    def ev(name: str, doc: object) -> bytes:
        return f"event: {name}\ndata: {json.dumps(doc)}\n\n".encode()

    out = ev("message_start", {"type": "message_start", "message": {}})
    out += ev("content_block_start", {"type": "content_block_start", "index": 0})
    out += ev("ping", {"type": "ping"})
    for i in range(words):
        out += ev("content_block_delta", {"type": "content_block_delta", "index": 0,
                                          "delta": {"type": "text_delta", "text": f"w{i}"}})
    out += ev("content_block_stop", {"type": "content_block_stop", "index": 0})
    out += ev("message_delta", {"type": "message_delta", "delta": {"stop_reason": "end_turn"}})
    return out + ev("message_stop", {"type": "message_stop"})


def _through(breaker: StreamBreaker, pieces: list[bytes]) -> bytes:
    out = b""
    for piece in pieces:
        out += breaker.feed(piece)
        if breaker.broken:
            break
    else:
        out += breaker.end()
    return out + breaker.tail()


def _splits(raw: bytes) -> list[list[bytes]]:
    """The stream whole, byte by byte, and cut in two at every position."""
    return [[raw], [raw[i:i + 1] for i in range(len(raw))],
            *([raw[:i], raw[i:]] for i in range(1, len(raw)))]


def _read(protocol: str, body: bytes) -> tuple[int, str | None, bool]:
    profile = AnthropicProfile(model="m") if protocol == "anthropic" else OpenAIProfile(model="m")
    state = profile.stream()
    state.feed(body, 0.0)
    state.finish(0.0)
    return state.content_chunks, state.error_code, state.done_at is not None


CASES = [
    # protocol, upstream words, fault, expected (content chunks, error code, complete)
    ("openai", 8, {"stream": "error", "after_chunks": 3, "code": "overloaded_error"}, (3, "overloaded_error", False)),
    ("openai", 8, {"stream": "truncate", "after_chunks": 2}, (2, None, False)),
    ("openai", 8, {"stream": "stall", "after_chunks": 1}, (1, None, False)),
    ("openai", 8, {"stream": "error", "after_chunks": 0, "code": "server_error"}, (0, "server_error", False)),
    ("openai", 2, {"stream": "error", "after_chunks": 5}, (2, "overloaded_error", False)),  # ends first
    ("openai", 2, {"stream": "truncate", "after_chunks": 5}, (2, None, False)),
    ("anthropic", 8, {"stream": "error", "after_chunks": 3, "code": "overloaded_error"}, (3, "overloaded_error", False)),
    ("anthropic", 8, {"stream": "truncate", "after_chunks": 0}, (0, None, False)),
    ("anthropic", 3, {"stream": "error", "after_chunks": 9}, (3, "overloaded_error", False)),
]


@pytest.mark.parametrize(("protocol", "words", "fault", "expected"), CASES)
def test_the_stream_breaks_at_its_point_in_every_split(
        protocol: str, words: int, fault: dict[str, object], expected: tuple[int, str | None, bool]) -> None:
    raw = _anthropic(words) if protocol == "anthropic" else _openai(words)
    for pieces in _splits(raw):
        breaker = StreamBreaker(StreamFault.parse(fault), Wire(protocol))  # type: ignore[arg-type]
        assert _read(protocol, _through(breaker, pieces)) == expected


def test_crlf_streams_break_like_lf_streams() -> None:
    raw = _openai(6, crlf=True)
    for pieces in _splits(raw):
        breaker = StreamBreaker(StreamFault.parse({"stream": "error", "after_chunks": 4}), Wire("openai"))
        assert _read("openai", _through(breaker, pieces)) == (4, "overloaded_error", False)


def test_the_in_band_error_speaks_the_upstreams_dialect() -> None:
    assert Wire("anthropic").error_event("overloaded_error").startswith(b"event: error\ndata: {")
    openai = Wire("openai").error_event("server_error")
    assert openai.startswith(b"data: {\"error\"")
    assert b"event:" not in openai


def test_http_error_bodies_speak_the_upstreams_dialect() -> None:
    body, headers = Wire("openai").http_error(429, 1.2)
    assert json.loads(body)["error"]["code"] == "rate_limit_exceeded"
    assert (b"retry-after", b"2") in headers
    body, headers = Wire("anthropic").http_error(503, None)
    assert json.loads(body) == {"type": "error", "error": {
        "type": "overloaded_error", "message": "overloaded_error (injected by the chaos fault proxy)"}}
    assert all(name != b"retry-after" for name, _ in headers)


def test_the_splitter_keeps_events_whole_and_lines_normalised() -> None:
    splitter = EventSplitter()
    assert splitter.feed(b"data: a\r") == []
    assert splitter.feed(b"\n\r\ndata: b\n") == [b"data: a\n\n"]
    assert splitter.feed(b"\n") == [b"data: b\n\n"]
    assert splitter.feed(b"data: [DONE]\n") == []
    assert splitter.rest() == b"data: [DONE]\n"
