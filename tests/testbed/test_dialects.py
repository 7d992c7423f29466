"""The chat dialects' wire formats, byte for byte (no servers)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from chaos.testbed.dialects import OPENAI, TESTBED, BadChatRequest, ChatRequest, dialect_for


def _events(raw: bytes) -> list[Any]:
    blocks = raw.split(b"\n\n")
    assert blocks[-1] == b""
    out: list[Any] = []
    for block in blocks[:-1]:
        assert block.startswith(b"data: ")
        assert b"\n" not in block
        data = block[6:].decode()
        out.append(data if data == "[DONE]" else json.loads(data))
    return out


def test_testbed_dialect_keeps_its_bytes() -> None:
    stream = TESTBED.stream(TESTBED.parse({"message": "hi"}))
    assert stream.open() == b""
    assert stream.token("alpha ") == b'data: {"token": "alpha "}\n\n'
    assert stream.finish("stop", 3) == b"data: [DONE]\n\n"
    assert TESTBED.error_event("provider_unavailable", "x") == (
        b'event: error\ndata: {"error": "provider_unavailable"}\n\n')
    assert TESTBED.error_body(503, "gateway_unhealthy", region="us-west") == {
        "error": "gateway_unhealthy", "region": "us-west"}
    with pytest.raises(BadChatRequest):
        TESTBED.parse({"message": 3})


def test_openai_stream_escapes_content_into_one_line_events() -> None:
    """Content with quotes, newlines and non-ASCII stays one `data:` line per event."""
    req = ChatRequest(message="hi", model='m"1', include_usage=True, prompt_tokens=2)
    stream = OPENAI.stream(req)
    raw = stream.open() + stream.token('say "x"\n\nü') + stream.finish("length", 1)
    role, token, finish, usage, done = _events(raw)
    assert token["choices"][0]["delta"] == {"content": 'say "x"\n\nü'}
    assert role["model"] == 'm"1'
    assert finish["choices"] == [{"index": 0, "delta": {}, "finish_reason": "length"}]
    assert usage["usage"] == {"prompt_tokens": 2, "completion_tokens": 1, "total_tokens": 3}
    assert done == "[DONE]"


def test_openai_parse_judges_the_last_user_message_and_reads_options() -> None:
    req = OPENAI.parse({"model": "m", "stream": True, "max_tokens": 4,
                        "stream_options": {"include_usage": True},
                        "messages": [{"role": "user", "content": "first one"},
                                     {"role": "assistant", "content": None},
                                     {"role": "user", "content": [{"type": "text", "text": "b c"}]}]})
    assert req == ChatRequest(message="b c", model="m", max_tokens=4, include_usage=True,
                              prompt_tokens=4)


def test_openai_error_shapes_by_status() -> None:
    shed: Any = OPENAI.error_body(429, "overloaded")
    blocked: Any = OPENAI.error_body(403, "waf_blocked")
    assert shed["error"]["type"] == "rate_limit_error"
    assert blocked["error"]["type"] == "invalid_request_error"
    assert OPENAI.error_body(503, "queue_timeout", region="x") == {"error": {
        "message": "no provider capacity within the queue bound", "type": "server_error",
        "code": "queue_timeout"}}
    assert OPENAI.error_event("overloaded_error", "Overloaded") == (
        b'data: {"error": {"message": "Overloaded", "type": "server_error", '
        b'"code": "overloaded_error"}}\n\n')


def test_dialect_follows_the_path() -> None:
    assert dialect_for("/v1/chat/completions") is OPENAI
    assert dialect_for("/api/chat") is TESTBED
