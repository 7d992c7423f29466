"""The OpenAI-compatible chat endpoint and the provider's stream faults, against a running
testbed (real Redis, real Toxiproxy): the stream a client sees through the gateway and the router."""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.servers import wait_for
from tests.testbed.helpers import StreamResult, metric, openai_body, stream_chat
from tests.testbed_fixture import RunningTestbed

V1 = "/v1/chat/completions"
PROVIDER_LOST = (b'data: {"error": {"message": "upstream provider disconnected", '
                 b'"type": "server_error", "code": "provider_unavailable"}}\n\n')


@pytest.fixture
def tb(openai_testbed: RunningTestbed) -> Iterator[RunningTestbed]:
    """The module's testbed; provider faults cleared, proxies reset and the router back on
    us-east after each test."""
    yield openai_testbed
    for route in ("primary", "fallback"):
        httpx.delete(f"{openai_testbed.provider_url(route)}/admin/fault", timeout=5).raise_for_status()
    httpx.post(f"{openai_testbed.state.toxiproxy_api}/reset", timeout=5).raise_for_status()
    wait_for(lambda: httpx.get(f"{openai_testbed.base_url}/admin/regions", timeout=2)
             .json()["active_region"] == "us-east", 15, "router back on us-east")


def _subject() -> str:
    return f"o-{uuid.uuid4().hex[:10]}"


def _set_proxy(tb: RunningTestbed, name: str, *, enabled: bool) -> None:
    httpx.post(f"{tb.state.toxiproxy_api}/proxies/{name}", json={"enabled": enabled},
               timeout=5).raise_for_status()


def _set_fault(tb: RunningTestbed, route: str, body: dict[str, Any]) -> None:
    httpx.post(f"{tb.provider_url(route)}/admin/fault", json=body, timeout=5).raise_for_status()


def _assert_framed(raw: bytes) -> None:
    """Every event is exactly `data: <one line>\\n\\n`."""
    blocks = raw.split(b"\n\n")
    assert blocks[-1] == b"", raw[-80:]
    for block in blocks[:-1]:
        assert block.startswith(b"data: "), block
        assert b"\n" not in block, block


def _contents(r: StreamResult) -> list[str]:
    return [c["choices"][0]["delta"]["content"] for c in r.chunks()
            if c.get("choices") and "content" in c["choices"][0]["delta"]
            and "role" not in c["choices"][0]["delta"]]


# -- the stream --------------------------------------------------------------------------------
@pytest.mark.parametrize("options", [None, {"include_usage": False}])
def test_stream_is_role_chunk_content_chunks_finish_chunk_then_done(
    tb: RunningTestbed, options: dict[str, Any] | None,
) -> None:
    """Through the router: a role-only chunk, one chunk per provider token, a finish chunk
    (empty delta, stop), no usage chunk, then [DONE]; one id, the request's model."""
    body = openai_body() if options is None else openai_body(stream_options=options)
    r = stream_chat(tb.base_url, body, subject=_subject())
    assert r.status == 200
    assert r.headers["content-type"].startswith("text/event-stream")
    assert r.headers["x-served-by-region"] == "us-east"
    _assert_framed(r.raw)
    assert r.data[-1] == "[DONE]"
    assert r.data.count("[DONE]") == 1
    role, *content, finish = r.chunks()
    head = {"object": "chat.completion.chunk", "model": "tb-model"}
    for chunk in (role, *content, finish):
        assert {k: chunk[k] for k in head} == head
        assert chunk["id"] == role["id"]
        assert chunk["created"] == role["created"]
        assert "usage" not in chunk
    assert re.fullmatch(r"chatcmpl-[0-9a-f]{32}", role["id"])
    assert isinstance(role["created"], int)
    assert abs(role["created"] - time.time()) < 60
    assert role["choices"] == [{"index": 0, "delta": {"role": "assistant", "content": ""},
                                "finish_reason": None}]
    assert len(content) == tb.config.provider.tokens
    for chunk in content:
        [choice] = chunk["choices"]
        assert choice["index"] == 0
        assert choice["finish_reason"] is None
        assert list(choice["delta"]) == ["content"]
        assert choice["delta"]["content"].strip()
    assert finish["choices"] == [{"index": 0, "delta": {}, "finish_reason": "stop"}]


def test_include_usage_adds_a_usage_chunk_before_done(tb: RunningTestbed) -> None:
    """With stream_options.include_usage: a last chunk with no choices and the usage (prompt
    words, completion tokens sent, their sum), then [DONE]; the other chunks say usage null."""
    body = openai_body("three word question", stream_options={"include_usage": True})
    body["messages"].insert(0, {"role": "system", "content": "be brief"})
    r = stream_chat(tb.gateway_url("us-east"), body, subject=_subject())
    assert r.data[-1] == "[DONE]"
    *others, finish, usage = r.chunks()
    assert finish["choices"][0]["finish_reason"] == "stop"
    n = tb.config.provider.tokens
    assert usage["choices"] == []
    assert usage["usage"] == {"prompt_tokens": 5, "completion_tokens": n, "total_tokens": 5 + n}
    assert usage["id"] == finish["id"]
    assert all(c["usage"] is None for c in [*others, finish])


def test_max_tokens_caps_the_tokens_relayed(tb: RunningTestbed) -> None:
    """max_tokens 2 of a 6-token answer: two content chunks, finish_reason length, usage 2."""
    body = openai_body(max_tokens=2, stream_options={"include_usage": True})
    r = stream_chat(tb.gateway_url("us-east"), body, subject=_subject())
    assert len(_contents(r)) == 2
    assert r.chunks()[-2]["choices"][0]["finish_reason"] == "length"
    assert r.chunks()[-1]["usage"]["completion_tokens"] == 2
    assert r.data[-1] == "[DONE]"


# -- errors ------------------------------------------------------------------------------------
@pytest.mark.parametrize("body", [
    {"model": "tb-model", "stream": True},
    {"model": "tb-model", "stream": True, "messages": "hi"},
    {"model": "tb-model", "stream": True, "messages": []},
])
def test_missing_messages_is_400_with_the_openai_error_body(
    tb: RunningTestbed, body: dict[str, Any],
) -> None:
    gw = tb.gateway_url("us-east")
    before = metric(gw, "chat_requests_total", code="bad_request") if _has_bad_request(gw) else 0.0
    r = stream_chat(gw, body, subject=_subject())
    assert r.status == 400
    assert r.headers["content-type"] == "application/json"
    assert r.error_body == {"error": {"message": "missing 'messages'", "type": "invalid_request_error",
                                      "param": "messages", "code": None}}
    assert metric(gw, "chat_requests_total", code="bad_request") == before + 1


def _has_bad_request(url: str) -> bool:
    return 'code="bad_request"' in httpx.get(f"{url}/metrics", timeout=5).text


@pytest.mark.parametrize(("change", "param"), [
    ({"messages": [{"role": "system", "content": "x"}]}, "messages"),
    ({"messages": [{"content": "no role"}]}, "messages"),
    ({"messages": [{"role": "user", "content": 7}]}, "messages"),
    ({"model": None}, "model"),
    ({"stream": False}, "stream"),
    ({"max_tokens": 0}, "max_tokens"),
    ({"stream_options": {"include_usage": "yes"}}, "stream_options"),
])
def test_invalid_fields_are_400_naming_the_param(
    tb: RunningTestbed, change: dict[str, Any], param: str,
) -> None:
    body = {k: v for k, v in {**openai_body(), **change}.items() if v is not None}
    r = stream_chat(tb.gateway_url("us-east"), body, subject=_subject())
    assert r.status == 400
    assert r.error_body["error"]["param"] == param
    assert r.error_body["error"]["type"] == "invalid_request_error"
    assert r.error_body["error"]["code"] is None


def test_client_errors_use_the_openai_shape_with_testbed_codes(tb: RunningTestbed) -> None:
    """401 invalid_token, 415, 405 and 429 rate_limited (Retry-After) in OpenAI's error object;
    the router counts the gateway's code from it; /api/chat keeps its own shape."""
    url = tb.base_url
    router_before = metric(url, "chat_requests_total", code="invalid_token") if (
        'code="invalid_token"' in httpx.get(f"{url}/metrics", timeout=5).text) else 0.0
    r401 = httpx.post(f"{url}{V1}", json=openai_body(), timeout=5)
    assert r401.status_code == 401
    assert r401.json() == {"error": {"message": "invalid or missing bearer token",
                                     "type": "invalid_request_error", "code": "invalid_token"}}
    assert metric(url, "chat_requests_total", code="invalid_token") == router_before + 1
    r415 = httpx.post(f"{url}{V1}", content=b"{}", timeout=5,
                      headers={"content-type": "text/plain", "authorization": "Bearer tb-x"})
    assert (r415.status_code, r415.json()["error"]["code"]) == (415, "unsupported_media_type")
    assert r415.json()["error"]["type"] == "invalid_request_error"
    r405 = httpx.get(f"{tb.gateway_url('us-east')}{V1}", timeout=5)
    assert (r405.status_code, r405.json()["error"]["code"]) == (405, "method_not_allowed")
    subject = _subject()
    results = [stream_chat(url, openai_body(), subject=subject) for _ in range(4)]
    assert [r.status for r in results] == [200, 200, 200, 429]
    assert results[3].error_body == {"error": {"message": "rate limit reached for this subject",
                                               "type": "rate_limit_error", "code": "rate_limited"}}
    assert 1 <= int(results[3].headers["retry-after"]) <= 10
    api = httpx.post(f"{url}/api/chat", json={"message": "hi"}, timeout=5)
    assert api.json() == {"error": "invalid_token"}


def test_server_errors_use_the_openai_shape_with_retry_after(tb: RunningTestbed) -> None:
    """Both provider links of us-west down: 503 provider_unavailable (server_error); both
    regions cut at the router: 503 gateway_unhealthy (server_error); Retry-After on both."""
    gw = tb.gateway_url("us-west")
    for proxy in ("us-west-primary", "us-west-fallback"):
        _set_proxy(tb, proxy, enabled=False)
    r = stream_chat(gw, openai_body(), subject=_subject())
    assert r.status == 503
    assert r.error_body == {"error": {"message": "no provider route is available",
                                      "type": "server_error", "code": "provider_unavailable"}}
    assert r.headers["retry-after"] == "1"
    for proxy in ("router-us-east", "router-us-west"):
        _set_proxy(tb, proxy, enabled=False)
    r = stream_chat(tb.base_url, openai_body(), subject=_subject())
    assert r.status == 503
    assert r.error_body == {"error": {"message": "no healthy region", "type": "server_error",
                                      "code": "gateway_unhealthy"}}
    assert r.headers["retry-after"] == "1"


# -- links cut mid-stream ------------------------------------------------------------------------
@pytest.mark.parametrize("via", ["gateway", "router"])
def test_provider_link_cut_mid_stream_ends_with_an_inband_error_and_no_done(
    tb: RunningTestbed, via: str,
) -> None:
    """us-east-primary disabled after the first content chunk (Toxiproxy closes the open
    connection): the 200 stream ends with the in-band provider_unavailable error, no finish
    chunk, no [DONE]; seen the same through the router."""
    url = tb.gateway_url("us-east") if via == "gateway" else tb.base_url
    gw = tb.gateway_url("us-east")
    errors = metric(gw, "chat_requests_total", code="stream_error") if (
        'code="stream_error"' in httpx.get(f"{gw}/metrics", timeout=5).text) else 0.0
    r = stream_chat(url, openai_body(), subject=_subject(),
                    on_first_content=lambda: _set_proxy(tb, "us-east-primary", enabled=False))
    assert r.status == 200
    assert r.raw.endswith(PROVIDER_LOST), r.raw[-200:]
    assert "[DONE]" not in r.data
    assert 1 <= len(_contents(r)) < tb.config.provider.tokens
    assert all(c["choices"][0]["finish_reason"] is None for c in r.chunks() if "choices" in c)
    assert metric(gw, "chat_requests_total", code="stream_error") == errors + 1


@pytest.mark.parametrize(("path", "body", "ending"), [
    (V1, openai_body(), b'data: {"error": {"message": "gateway connection lost", '
                        b'"type": "server_error", "code": "gateway_unhealthy"}}\n\n'),
    ("/api/chat", {"message": "hi"}, b'event: error\ndata: {"error": "gateway_unhealthy"}\n\n'),
])
def test_region_lost_mid_stream_router_ends_with_its_dialects_error(
    tb: RunningTestbed, path: str, body: dict[str, Any], ending: bytes,
) -> None:
    """router-us-east disabled after the first content: on /v1/ the router ends the stream with
    the OpenAI in-band error gateway_unhealthy, on /api/ with `event: error` as before."""
    r = stream_chat(tb.base_url, body, subject=_subject(), path=path,
                    on_first_content=lambda: _set_proxy(tb, "router-us-east", enabled=False))
    assert r.status == 200
    assert r.raw.endswith(ending), r.raw[-200:]
    assert "[DONE]" not in r.data


# -- provider stream faults, seen through the gateway ------------------------------------------
@pytest.mark.parametrize(("fault", "code"), [
    ({"stream": "error", "after_chunks": 2}, "overloaded_error"),
    ({"stream": "error", "after_chunks": 2, "code": "rate_limit_error"}, "rate_limit_error"),
])
def test_stream_error_fault_gives_an_inband_error_with_its_code(
    tb: RunningTestbed, fault: dict[str, Any], code: str,
) -> None:
    """After 2 content chunks the provider sends an in-band error: the client gets the role
    chunk, 2 content chunks, then the OpenAI error event with the provider's code, no [DONE];
    /api/chat ends with `event: error` carrying the same code."""
    _set_fault(tb, "primary", fault)
    hit = metric(tb.provider_url("primary"), "provider_stream_faults_total", kind="error")
    r = stream_chat(tb.gateway_url("us-east"), openai_body(), subject=_subject())
    assert r.status == 200
    assert len(_contents(r)) == 2
    assert r.raw.endswith(b'data: {"error": {"message": "Overloaded", "type": "server_error", '
                          b'"code": "%s"}}\n\n' % code.encode()), r.raw[-200:]
    assert "[DONE]" not in r.data
    assert metric(tb.provider_url("primary"), "provider_stream_faults_total", kind="error") == hit + 1
    api = stream_chat(tb.gateway_url("us-east"), {"message": "hi"}, subject=_subject(),
                      path="/api/chat")
    assert ["token" in json.loads(d) for d in api.data] == [True, True, False]
    assert api.raw.endswith(b'event: error\ndata: {"error": "%s"}\n\n' % code.encode())


def test_stream_truncate_fault_ends_without_done_and_without_error(tb: RunningTestbed) -> None:
    """The provider ends its HTTP message after 2 chunks without [DONE]: the OpenAI stream ends
    after the 2 content chunks with neither finish chunk, error nor [DONE] (the gateway does
    not tell the client, but counts and logs it stream_truncated); /api/chat still reports it
    as provider_unavailable."""
    _set_fault(tb, "primary", {"stream": "truncate", "after_chunks": 2})
    gw = tb.gateway_url("us-east")
    ok = metric(gw, "chat_requests_total", code="ok")
    try:
        truncated = metric(gw, "chat_requests_total", code="stream_truncated")
    except AssertionError:  # no such request yet: the labelled series does not exist
        truncated = 0.0
    r = stream_chat(gw, openai_body(), subject=_subject())
    assert r.status == 200
    _assert_framed(r.raw)
    assert len(r.chunks()) == 3  # role + 2 content
    assert len(_contents(r)) == 2
    assert "[DONE]" not in r.data
    assert all("error" not in c for c in r.chunks())
    assert metric(gw, "chat_requests_total", code="ok") == ok
    assert metric(gw, "chat_requests_total", code="stream_truncated") == truncated + 1
    api = stream_chat(gw, {"message": "hi"}, subject=_subject(), path="/api/chat")
    assert api.raw.endswith(b'event: error\ndata: {"error": "provider_unavailable"}\n\n')


def test_stream_stall_fault_keeps_the_client_stream_open_and_silent(tb: RunningTestbed) -> None:
    """The provider stalls after 2 chunks: the client gets nothing for the gateway's provider
    read timeout (1.5 s) on an open connection, then the in-band provider_unavailable error;
    the provider's stalled stream ends when the gateway lets go of it."""
    _set_fault(tb, "primary", {"stream": "stall", "after_chunks": 2})
    read_timeout_s = tb.config.gateway.provider_read_timeout_s
    r = stream_chat(tb.gateway_url("us-east"), openai_body(), subject=_subject())
    assert len(_contents(r)) == 2
    assert r.raw.endswith(PROVIDER_LOST)
    last_content_at, error_at = r.events[-2][0], r.events[-1][0]
    assert error_at - last_content_at >= read_timeout_s - 0.1
    wait_for(lambda: metric(tb.provider_url("primary"), "provider_active_streams") == 0, 5,
             "the stalled provider stream ended")


# -- the provider's fault switch ----------------------------------------------------------------
def test_stalled_provider_stream_sends_nothing_and_ends_when_the_client_leaves(
    tb: RunningTestbed,
) -> None:
    """Directly at the provider: one chunk, then silence (a client read times out on the open
    connection) while provider_active_streams counts it; closing the client ends it."""
    url = tb.provider_url("fallback")
    _set_fault(tb, "fallback", {"stream": "stall", "after_chunks": 1})
    assert metric(url, "provider_stream_fault", kind="stall") == 1
    assert metric(url, "provider_stream_fault", kind="error") == 0
    assert metric(url, "provider_http_fault_status") == 0
    with httpx.stream("POST", f"{url}{V1}", json=openai_body(),
                      timeout=httpx.Timeout(5.0, read=0.8)) as resp:
        assert resp.status_code == 200
        parts = resp.iter_raw()
        first = next(parts)
        assert first.startswith(b"data: {")
        assert first.count(b"data: ") == 1
        assert metric(url, "provider_active_streams") == 1
        with pytest.raises(httpx.ReadTimeout):  # silence, and no end of the response either
            next(parts)
    wait_for(lambda: metric(url, "provider_active_streams") == 0, 5, "stalled stream ended")
    httpx.delete(f"{url}/admin/fault", timeout=5).raise_for_status()
    assert metric(url, "provider_stream_fault", kind="stall") == 0


def test_fault_switch_shows_the_stream_fault_and_rate_zero_spares_every_request(
    tb: RunningTestbed,
) -> None:
    url = tb.provider_url("fallback")
    _set_fault(tb, "fallback", {"stream": "error", "rate": 0})
    shown = httpx.get(f"{url}/admin/fault", timeout=5).json()
    assert shown == {"route": "fallback", "fault": {"stream": "error", "after_chunks": 1,
                                                    "rate": 0.0, "code": "overloaded_error"}}
    hit = metric(url, "provider_stream_faults_total", kind="error")
    body = httpx.post(f"{url}{V1}", json=openai_body(), timeout=5).text
    assert body.endswith("data: [DONE]\n\n")
    assert metric(url, "provider_stream_faults_total", kind="error") == hit
    _set_fault(tb, "fallback", {"stream": "truncate", "after_chunks": 3, "rate": 1})
    assert httpx.get(f"{url}/admin/fault", timeout=5).json()["fault"] == {
        "stream": "truncate", "after_chunks": 3, "rate": 1.0}
    _set_fault(tb, "fallback", {"status": 503, "retry_after_s": 2})
    assert metric(url, "provider_http_fault_status") == 503
    assert metric(url, "provider_stream_fault", kind="truncate") == 0


@pytest.mark.parametrize("body", [
    {"stream": "explode"},
    {"stream": "error", "after_chunks": -1},
    {"stream": "error", "after_chunks": 1.5},
    {"stream": "error", "after_chunks": True},
    {"stream": "error", "code": "Bad-Code"},
    {"stream": "error", "code": "x" * 42},
    {"stream": "truncate", "code": "overloaded_error"},
    {"stream": "stall", "rate": 1.5},
    {"stream": "stall", "status": 503},
    {"status": 503, "after_chunks": 1},
    {"status": 200},
    [],
])
def test_fault_switch_rejects_bad_bodies_with_400(tb: RunningTestbed, body: object) -> None:
    url = tb.provider_url("primary")
    r = httpx.post(f"{url}/admin/fault", json=body, timeout=5)
    assert r.status_code == 400, body
    assert r.json()["error"] == "bad_request"
    assert httpx.get(f"{url}/admin/fault", timeout=5).json()["fault"] is None
