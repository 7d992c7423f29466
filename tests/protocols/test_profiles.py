"""Profiles and stream classification, table-tested with recorded bodies split at every boundary."""

from __future__ import annotations

import itertools
import json
import random

import pytest

from chaos.protocols import (
    AnthropicProfile,
    CustomProfile,
    OpenAIProfile,
    Profile,
    SseDecoder,
    StreamState,
    classify_outcome,
    error_message,
    profiles,
)
from chaos.protocols.sse import Scan, ScanVerdict
from tests.protocols import streams as s

OPENAI = OpenAIProfile(model="m")
ANTHROPIC = AnthropicProfile(model="m")
TESTBED = CustomProfile()


def _read(profile: Profile, body: bytes, cuts: tuple[int, ...] = ()) -> StreamState:
    """Feed `body` in pieces cut at `cuts`, piece i arriving at instant i."""
    state = profile.stream()
    edges = (0, *cuts, len(body))
    for i, (a, b) in enumerate(itertools.pairwise(edges)):
        state.feed(body[a:b], float(i))
    state.finish(float(len(edges)))
    return state


CASES = [
    # profile, body, failure on the wire, class, code
    (OPENAI, s.OPENAI_COMPLETE, None, "2xx", None),
    (OPENAI, s.OPENAI_BROKEN, None, "broken", "provider_unavailable"),
    (OPENAI, s.OPENAI_TRUNCATED, None, "truncated", None),
    (OPENAI, s.OPENAI_TRUNCATED, "reset", "truncated", None),
    (OPENAI, s.OPENAI_TRUNCATED, "stall", "stalled", None),
    (OPENAI, s.OPENAI_RATE_LIMITED_IN_BAND, None, "429", "rate_limit_exceeded"),
    (OPENAI, s.OPENAI_AFTER_DONE, None, "malformed", "data_after_done"),
    (OPENAI, s.OPENAI_UNPARSEABLE, None, "malformed", "unparseable_chunk"),
    (OPENAI, s.OPENAI_JSON_ERROR_BODY, None, "broken", "500"),
    (OPENAI, b"<html>bad gateway</html>", None, "malformed", "not_an_event_stream"),
    (OPENAI, b"", None, "truncated", None),
    (OPENAI, b": keep-alive\n\n: keep-alive\n\n", "stall", "stalled", None),
    (OPENAI, s.OPENAI_REASONING_FIRST, None, "2xx", None),
    (OPENAI, s.OPENAI_TOOL_CALL, None, "2xx", None),
    (OPENAI, s.TESTBED_COMPLETE, None, "malformed", "no_choices"),  # wrong protocol
    (ANTHROPIC, s.ANTHROPIC_COMPLETE, None, "2xx", None),
    (ANTHROPIC, s.ANTHROPIC_OVERLOADED, None, "broken", "overloaded_error"),
    (ANTHROPIC, s.ANTHROPIC_NO_STOP, None, "truncated", None),
    (ANTHROPIC, s.OPENAI_COMPLETE, None, "malformed", "unparseable_chunk"),  # [DONE] is not JSON
    (TESTBED, s.TESTBED_COMPLETE, None, "2xx", None),
    (TESTBED, s.TESTBED_BROKEN, None, "broken", "provider_unavailable"),
    (TESTBED, s.TESTBED_COMPLETE.replace(b"data: [DONE]\n\n", b""), None, "truncated", None),
]


@pytest.mark.parametrize(("profile", "body", "failure", "cls", "code"), CASES)
def test_outcome_class_is_the_same_at_every_split(
    profile: Profile, body: bytes, failure: str | None, cls: str, code: str | None,
) -> None:
    """One class per recorded body, whatever the reads' boundaries (one cut, two cuts)."""
    for cut in range(len(body) + 1):
        state = _read(profile, body, (cut,))
        assert classify_outcome(200, failure, state) == (cls, code), f"cut at {cut}"
    for a in range(0, len(body), 7):
        for b in range(a, len(body), 13):
            state = _read(profile, body, (a, b))
            assert classify_outcome(200, failure, state) == (cls, code), f"cuts {a}, {b}"


def test_crlf_and_cr_line_ends_read_like_lf() -> None:
    for sep in (b"\r\n", b"\r"):
        body = s.OPENAI_COMPLETE.replace(b"\n", sep)
        for cut in range(len(body) + 1):
            state = _read(OPENAI, body, (cut,))
            assert classify_outcome(200, None, state) == ("2xx", None), (sep, cut)
            assert state.content_chunks == 2


def test_openai_first_token_is_the_first_content_chunk_not_comment_or_role() -> None:
    # Each event its own read: the keep-alive at 0, role chunk at 1, first content at 2.
    body = s.OPENAI_COMPLETE
    cuts = tuple(i + 2 for i in range(len(body) - 1) if body[i:i + 2] == b"\n\n")[:-1]
    state = _read(OPENAI, body, cuts)
    assert state.first_content_at == 2.0
    assert state.first_kind == "content"
    assert state.last_content_at == 4.0  # the comment between them was read at 3
    assert state.gaps_us == [2_000_000]
    assert state.usage_tokens == 2
    assert state.output_tokens == 2
    assert state.finish_reason == "stop"
    assert state.done_at == 7.0


def test_reasoning_and_tool_call_deltas_are_first_tokens_and_say_so() -> None:
    assert _read(OPENAI, s.OPENAI_REASONING_FIRST).first_kind == "reasoning"
    assert _read(OPENAI, s.OPENAI_TOOL_CALL).first_kind == "tool_call"


def test_tokens_come_from_usage_where_sent_else_chunks() -> None:
    assert _read(ANTHROPIC, s.ANTHROPIC_COMPLETE).output_tokens == 15
    testbed = _read(TESTBED, s.TESTBED_COMPLETE)
    assert testbed.usage_tokens is None
    assert testbed.output_tokens == 2


def test_content_in_one_read_is_one_arrival_no_zero_gaps() -> None:
    state = _read(OPENAI, s.OPENAI_COMPLETE)
    assert state.content_chunks == 2
    assert state.gaps_us == []


def test_in_band_error_after_content_is_broken_even_if_it_says_rate_limit() -> None:
    body = s.OPENAI_TRUNCATED + s.OPENAI_RATE_LIMITED_IN_BAND
    assert classify_outcome(200, None, _read(OPENAI, body)) == ("broken", "rate_limit_exceeded")


def test_error_message_is_one_short_line() -> None:
    state = _read(OPENAI, s.OPENAI_BROKEN)
    assert error_message(state.error_data) == "upstream provider disconnected"
    long = json.dumps({"error": {"message": "x\n" * 300, "type": "t"}}).encode()
    message = error_message(long)
    assert message is not None
    assert len(message) == 200
    assert "\n" not in message


def test_status_decides_before_the_body() -> None:
    assert classify_outcome(None, "connect", None) == ("transport", None)
    assert classify_outcome(429, None, None) == ("429", None)
    assert classify_outcome(400, None, None) == ("4xx", None)
    assert classify_outcome(503, None, None) == ("5xx", None)
    assert classify_outcome(200, "timeout", OPENAI.stream()) == ("transport", None)


def test_requests_are_what_each_api_expects() -> None:
    body = json.loads(OpenAIProfile(model="gpt", max_tokens=16).request("hi", "s1", "k").body)
    assert body == {"model": "gpt", "messages": [{"role": "user", "content": "hi"}],
                    "stream": True, "max_tokens": 16, "stream_options": {"include_usage": True}}
    req = ANTHROPIC.request("hi", "s1", "key")
    assert json.loads(req.body)["max_tokens"] == 256
    assert ("x-api-key", "key") in req.headers
    assert ("anthropic-version", "2023-06-01") in req.headers
    custom = CustomProfile(body='{"q": {payload}, "user": {subject}, "m": {model}}', model="x")
    assert json.loads(custom.request('say "hi"', "s7", None).body) == {
        "q": 'say "hi"', "user": "s7", "m": "x"}
    assert OPENAI.request("hi", "s", "t").headers == (("Authorization", "Bearer t"),)


def test_custom_rules_by_event_names_and_pointers() -> None:
    profile = CustomProfile(body="{}", done_data=None, done_event="end", error_events=("fail",),
                            error_pointer="/status/error", content_events=("tok",),
                            content_pointer=None, usage_pointer="/n")
    body = (b"event: tok\ndata: plain text\n\n"
            b'event: meta\ndata: {"n": 5}\n\n'
            b"event: end\ndata: {}\n\n")
    state = _read(profile, body)
    assert classify_outcome(200, None, state) == ("2xx", None)
    assert state.content_chunks == 1
    assert state.output_tokens == 5
    failing = _read(profile, b'event: meta\ndata: {"status": {"error": {"code": "boom"}}}\n\n')
    assert classify_outcome(200, None, failing) == ("broken", "boom")
    named = _read(profile, b"event: fail\ndata: nope\n\n")
    assert classify_outcome(200, None, named) == ("broken", "error")


def test_profiles_survive_pickling_for_worker_processes() -> None:
    import pickle

    for profile in (OPENAI, ANTHROPIC, TESTBED, CustomProfile(error_events=("x",))):
        copy = pickle.loads(pickle.dumps(profile))
        assert copy == profile
        state = _read(copy, s.TESTBED_BROKEN)
        assert state.events == 2


def test_sse_decoder_bounds_an_endless_line() -> None:
    events: list[tuple[bytes | None, bytes]] = []
    decoder = SseDecoder(lambda name, data: events.append((name, data)))
    for _ in range(300):
        decoder.feed(b"x" * 4096)
    assert decoder.overflow
    assert len(decoder.pending) == 0
    state = OPENAI.stream()
    for _ in range(300):
        state.feed(b"data: " + b"x" * 4096, 0.0)
    state.finish(1.0)
    assert classify_outcome(200, None, state) == ("malformed", "event_too_large")


def test_multi_line_data_and_comments_are_read_as_the_spec_says() -> None:
    events: list[tuple[bytes | None, bytes]] = []
    decoder = SseDecoder(lambda name, data: events.append((name, data)))
    decoder.feed(b": c\nevent: e\ndata: a\ndata:b\nid: 3\nretry: 10\n\n: only a comment\n\ndata: tail\n")
    decoder.flush()
    assert events == [(b"e", b"a\nb"), (None, b"tail")]
    assert decoder.comments == 2


# -- the fast path (whole data events judged in one call) against one event at a time ------

_CHUNK_POOL = [
    b'{"id":"c","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}',
    b'{"id":"c","choices":[{"index":0,"delta":{"content":"tok "},"finish_reason":null}]}',
    b'{"choices":[{"delta":{"content":"a"},"logprobs":null}],"model":"m","system_fingerprint":"x"}',
    b'{"choices":[{"delta":{},"finish_reason":"stop"}]}',
    b'{"choices":[{"delta":{"content":"z"},"finish_reason":"length"}]}',
    b'{"choices":[],"usage":{"prompt_tokens":1,"completion_tokens":5,"total_tokens":6}}',
    b'{"usage":{"completion_tokens":7}}',
    b'{"usage":{"completion_tokens":-1}}',
    b'{"choices":[{"delta":{"reasoning_content":"think"}}]}',
    b'{"choices":[{"delta":{"tool_calls":[{"index":0}]}},{"delta":{"content":"b"}}]}',
    b'{"choices":[{"delta":null,"finish_reason":"stop"}]}',
    b'{"choices":[{"delta":"text"}]}',
    b'{"choices":[1]}',
    b'{"choices":{"delta":{}}}',
    b'{"choices":[{"delta":{"content":"x"},"finish_reason":5}]}',
    b'{"choices":[{"delta":{"content":NaN}}]}',
    b'{"choices":[{"delta":{"content":1e400}}]}',
    b'{"choices":[{"delta":{"content":"\\ud800"}}]}',
    b'{"choices":[{"delta":{"content":"\xff"}}]}',
    b'{"error":{"message":"upstream died","code":"provider_unavailable"}}',
    b'{"error":{"type":"rate_limit_exceeded"}}',
    b'{"error":null,"choices":[{"delta":{"content":"e"}}]}',
    b'{"choices":[{"delta":{"content":"partial"}}],"error":{"message":"died","code":"provider_unavailable"}}',
    b'{"error":{"code":"quota"},"usage":{"completion_tokens":3}}',
    b'{"model":"m"}',
    b'[1]',
    b'"text"',
    b'{not json',
    b'',
    b' {"choices":[{"delta":{"content":"sp"}}]}',
    b'[DONE]',
]
_LINE_POOL = [b": keep-alive", b"event: error", b"event: message", b"id: 7", b"retry: 10"]


_SCANS = [pytest.param(profiles._openai_scan_py, id="python")]
if profiles.OPENAI_FAST_PATH == "c":
    _SCANS.append(pytest.param(profiles._openai_scan, id="c"))


def test_the_compiled_fast_path_is_built() -> None:
    """setup.py builds it wherever a C compiler is (CI has one); without it the load driver
    reads OpenAI streams about 2x slower, so a build that silently lost it must show here."""
    assert profiles.OPENAI_FAST_PATH == "c"


def _equivalent_states(fast: StreamState, slow: StreamState) -> None:
    for name in StreamState.__slots__:
        if name in ("_classify", "_scan", "_sse"):
            continue
        if name == "_head" and slow.events:
            continue  # read only while no event came; the fast path does not keep it
        assert getattr(fast, name) == getattr(slow, name), name
    assert fast._sse.pending == slow._sse.pending
    assert fast._sse.comments <= slow._sse.comments  # the fast path sees no comments


def _random_body(rng: random.Random, pool: list[bytes]) -> bytes:
    events = []
    for _ in range(rng.randint(1, 14)):
        lines = [b"data: " + rng.choice(pool[:6] * 6 + pool)]
        if rng.random() < 0.1:
            lines.insert(0, rng.choice(_LINE_POOL))
        if rng.random() < 0.05:
            lines.append(b"data: " + rng.choice(pool))
        events.append(b"\n".join(lines))
    if rng.random() < 0.7:
        events.append(b"data: [DONE]")
    body = b"".join(e + b"\n\n" for e in events)
    if rng.random() < 0.1:
        body = body.replace(b"\n", rng.choice([b"\r\n", b"\r"]))
    if rng.random() < 0.1:
        body = body[: rng.randint(0, len(body))]
    return body


def _read_both_ways(scan: Scan, body: bytes, cuts: list[int], profile: Profile = OPENAI) -> None:
    """`body` cut at `cuts`, read with `scan` and one event at a time: the same state after
    every read and at the end, and the same outcome class."""
    fast, slow = StreamState(profile.classify, scan), StreamState(profile.classify)
    edges = (0, *cuts, len(body))
    for i, (a, b) in enumerate(itertools.pairwise(edges)):
        fast.feed(body[a:b], float(i // 2))
        slow.feed(body[a:b], float(i // 2))
        _equivalent_states(fast, slow)
    fast.finish(99.0)
    slow.finish(99.0)
    _equivalent_states(fast, slow)
    for failure in (None, "stall", "reset"):
        assert classify_outcome(200, failure, fast) == classify_outcome(200, failure, slow)


@pytest.mark.parametrize("scan", _SCANS)
@pytest.mark.parametrize("seed", range(300))
def test_the_fast_path_reads_every_stream_as_one_event_at_a_time_does(seed: int, scan: Scan) -> None:
    """Random streams of real and broken chunks, extra lines and line ends, cut into random
    reads: the OpenAI profile with its fast path (compiled, and in Python) ends in exactly
    the state (outcome, instants, gaps, tokens, codes) of the same profile reading one
    event at a time."""
    rng = random.Random(seed)
    body = _random_body(rng, _CHUNK_POOL)
    cuts = sorted(rng.sample(range(len(body) + 1), min(len(body) + 1, rng.randint(0, 5))))
    _read_both_ways(scan, body, cuts)


# Bytes that break JSON, strings, numbers or UTF-8 where a mutation puts them.
_MUTATIONS = [b'"', b"\\", b"\\u", b"\\ud83d", b"\\n", b"{", b"}", b"[", b"]", b",", b":",
              b"0", b"-", b".", b"e5", b"1e400", b"null", b"true", b"\x00", b"\x1f", b"\x7f",
              b"\xc3", b"\xc3\xa9", b"\xed\xa0\x80", b"\xf0\x9f\x98\x80", b"\xf4\x90\x80\x80",
              b"\xe0\x80\x80", b" ", b"\t", b'"error":1,', b'"choices":null,', b'"usage":{},',
              b'"content":""', b'"finish_reason":"x"', b'"delta":{}']


def _mutated(rng: random.Random, chunk: bytes) -> bytes:
    out = bytearray(chunk)
    for _ in range(rng.randint(1, 3)):
        at = rng.randint(0, len(out))
        what = rng.random()
        if what < 0.4:
            out[at:at] = rng.choice(_MUTATIONS)
        elif what < 0.7 and out:
            del out[min(at, len(out) - 1)]
        elif out:
            out[min(at, len(out) - 1)] = rng.randrange(256)
    return bytes(out).replace(b"\n", b"").replace(b"\r", b"")


@pytest.mark.parametrize("scan", _SCANS)
@pytest.mark.parametrize("seed", range(200))
def test_the_fast_path_never_reads_a_damaged_chunk_otherwise_than_one_at_a_time(
    seed: int, scan: Scan,
) -> None:
    """Real chunks with random bytes inserted, deleted or changed (quotes, escapes, lone
    surrogates, bad UTF-8, exponents, duplicate keys, control bytes): whatever the fast
    path accepts, it reads as one event at a time does, so a damaged chunk it cannot judge
    is never a content event in its hands."""
    rng = random.Random(10_000 + seed)
    pool = [_mutated(rng, rng.choice(_CHUNK_POOL[:11])) for _ in range(12)] + _CHUNK_POOL[:6]
    body = _random_body(rng, pool)
    cuts = sorted(rng.sample(range(len(body) + 1), min(len(body) + 1, rng.randint(0, 3))))
    _read_both_ways(scan, body, cuts)


@pytest.mark.parametrize(("payload", "sure"), [
    (b'{"choices":[{"delta":{"content":"\\u00e9t\xc3\xa9 \xf0\x9f\x98\x80"}}]}', True),
    (b'{"choices":[{"delta":{"content":"x"},"logprobs":{"content":[{"t":-0.25,"b":[1,2]}]}}]}', True),
    (b'{"choices":[{"delta":{"content":"x","content":"y"}}]}', False),  # given twice
    (b'{"choices":[{"delta":{"\\u0063ontent":"x"}}]}', False),  # an escaped key
    (b'{"choices":[{"delta":{"content":"\\ud800"}}]}', False),  # a lone surrogate
    (b'{"choices":[{"delta":{"content":"\xed\xa0\x80"}}]}', False),  # a UTF-8 surrogate
    (b'{"choices":[{"delta":{"content":"\xc0\xaf"}}]}', False),  # overlong UTF-8
    (b'{"choices":[{"delta":{"content":1}}]}', False),  # truthiness of a number
    (b'{"choices":[{"delta":{"content":"x"}}],"created":1e3}', False),  # an exponent
    (b'{"choices":[{"delta":{"content":"x"}}],"n":1234567890123456789}', False),
    (b'{"choices":[{"delta":{"content":"x"}}],"error":{"code":"e"}}', False),
    (b'{"choices":[{"delta":{"content":"x"}}],"error":null}', True),
    (b'{"choices":[{"delta":{"content":"x"}}]} x', False),  # trailing bytes
    (b'{"choices":[{"delta":{"content":"x"}}],}', False),  # a trailing comma
    (b'{"choices":[{"delta":{"content":"x"}}]', False),  # unclosed
    (b'{"choices":[{"delta":{"content":"x"}}],"a":01}', False),  # a leading zero
    (b'{"choices":[{"delta":{"content":"x"}}],"a":' + b"[" * 70 + b"]" * 70 + b"}", False),
    (b'{"choices":[{"delta":{"content":"x"}}],"a":' + b"[" * 40 + b"]" * 40 + b"}", True),
])
def test_the_compiled_fast_path_is_sure_only_of_what_it_fully_validates(
    payload: bytes, sure: bool,
) -> None:
    if profiles.OPENAI_FAST_PATH != "c":
        pytest.skip("the compiled fast path is not built (test_the_compiled_fast_path_is_built fails)")
    read = b"data: " + payload + b"\n\n"
    verdict = profiles._openai_scan(b"", read)
    assert (verdict is not None) == sure
    if sure:
        assert verdict == profiles._openai_scan_py(b"", read)
        assert verdict is not None
        assert verdict[:3] == (1, 1, "content")
    _read_both_ways(profiles._openai_scan, read + b"data: [DONE]\n\n", [])


@pytest.mark.parametrize(("special", "sure"), [
    (b"\\n", True), (b'\\"', True), (b"\\u00e9", True), (b"\x7f", True), (b"\xc3\xa9", True),
    (b"\xf0\x9f\x98\x80", True), (b"\x00", False), (b"\x1f", False), (b"\xc3", False),
    (b"\xed\xa0\x80", False), (b"\xff", False), (b"\\ud800", False), (b"\\x", False),
])
@pytest.mark.parametrize("where", ["content", "skipped"])
def test_the_compiled_reader_finds_a_special_byte_at_any_offset_of_a_long_string(
    special: bytes, sure: bool, where: str,
) -> None:
    """The compiled reader skips plain string text 8 bytes at a time: an escape, a control
    byte or a UTF-8 sequence at any offset of a long string (the content it reads, a value
    it skips) is still found, and judged as the Python twin judges it."""
    if profiles.OPENAI_FAST_PATH != "c":
        pytest.skip("the compiled fast path is not built (test_the_compiled_fast_path_is_built fails)")
    for offset in range(25):
        text = b"abcdefghijklmnopqrstuvwx"[:offset] + special + b"ABCDEFGHIJKLMNOPQRSTUVWX"[offset:]
        content, skipped = (text, b"fp_0ba0d124f1") if where == "content" else (b"tok", text)
        read = (b'data: {"id":"chatcmpl-AbCdEfGhIjKlMnOp","system_fingerprint":"' + skipped
                + b'","choices":[{"index":0,"delta":{"content":"' + content + b'"}}]}\n\n')
        verdict = profiles._openai_scan(b"", read)
        assert (verdict is not None) == sure, (offset, read)
        if sure:
            assert verdict == profiles._openai_scan_py(b"", read)
        _read_both_ways(profiles._openai_scan, read + b"data: [DONE]\n\n", [])


@pytest.mark.parametrize("scan", _SCANS)
def test_the_fast_path_takes_a_plain_openai_read_and_leaves_the_rest_pending(scan: Scan) -> None:
    """It does apply (so the equivalence above is not vacuous): a read of whole events and
    half of the next is judged in one call and the half is kept for the next read."""
    calls: list[int] = []

    def counting(pending: bytes, data: bytes) -> ScanVerdict | None:
        verdict = scan(pending, data)
        assert verdict is not None
        calls.append(verdict[0])
        return verdict

    state = StreamState(OPENAI.classify, counting)
    half = b'data: {"choices":[{"delta":{"content":"c"}}]}'
    plain = s.OPENAI_COMPLETE.replace(b": keep-alive\n\n", b"").replace(b": PROCESSING\n\n", b"")
    state.feed(plain.split(b"data: [DONE]")[0] + half[:20], 1.0)
    assert calls
    assert state._sse.pending == half[:20]
    state.feed(half[20:] + b"\n\ndata: [DONE]\n\n", 2.0)
    assert calls[-1] == 2
    assert state.done_at == 2.0
    assert state._sse.pending == b""
    assert classify_outcome(200, None, state) == ("2xx", None)
    assert (state.events, state.content_chunks, state.usage_tokens, state.finish_reason,
            state.first_content_at, state.gaps_us) == (7, 3, 2, "stop", 1.0, [1000000])


# -- the custom profile's compiled fast path, against one event at a time ------------------

_CUSTOM_PROFILES = [
    pytest.param(TESTBED, id="testbed"),
    pytest.param(CustomProfile(content_pointer="/text", error_pointer="/err", usage_pointer="/n",
                               done_data="END"), id="keys"),
    pytest.param(CustomProfile(error_pointer=None), id="no-error-key"),
]
_CUSTOM_POOL = [
    b'{"token": "alpha "}', b'{"token":"b"}', b'{"text":"t","n":3}', b'{"text":""}',
    b'{"token": ""}', b'{"token": null}', b'{"token": 0}', b'{"token": [1]}', b'{"token": {}}',
    b'{"n": 4}', b'{"n": -1}', b'{"n": 2.5}', b'{"error": null, "token": "e"}',
    b'{"error": false, "token": "f"}', b'{"error": "provider_unavailable"}', b'{"err": 0}',
    b'{"error": {"code": "quota"}}', b'{"err": "x", "text": "y"}', b'{"token": "x", "token": ""}',
    b'"text"', b"[1]", b"{not json", b"", b"[DONE]", b"END", b'{"t\\u006fken": "esc"}',
]


@pytest.mark.parametrize("profile", _CUSTOM_PROFILES)
@pytest.mark.parametrize("seed", range(150))
def test_the_custom_fast_path_reads_every_stream_as_one_event_at_a_time_does(
    seed: int, profile: CustomProfile,
) -> None:
    """Random streams of chunks in custom shapes (content, error and usage keys, markers,
    damaged bytes), cut into random reads: a custom profile with its compiled fast path ends
    in exactly the state of the same profile reading one event at a time."""
    if profiles.OPENAI_FAST_PATH != "c":
        pytest.skip("the compiled fast path is not built (test_the_compiled_fast_path_is_built fails)")
    scan = profile._scan
    assert scan is not None
    rng = random.Random(20_000 + seed)
    pool = [_mutated(rng, rng.choice(_CUSTOM_POOL[:5])) for _ in range(6)] + _CUSTOM_POOL
    body = _random_body(rng, pool)
    if rng.random() < 0.5:
        body += b"data: " + (profile.done_data or "").encode() + b"\n\n"
    cuts = sorted(rng.sample(range(len(body) + 1), min(len(body) + 1, rng.randint(0, 4))))
    _read_both_ways(scan, body, cuts, profile)


# Chunks that open with the same members (as real ones do: id, object, created, model), so
# that the compiled reader reads the later ones of a read from where that prefix ends; some
# prefixes differ by one byte, nest, space out, escape, or hold a key the reader reads.
_HEADS = [
    b'{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1733472000,"model":"gpt-4o",',
    b'{"id":"chatcmpl-2","object":"chat.completion.chunk","created":1733472000,"model":"gpt-4o",',
    b'{ "id" : "c" , "x_meta" : {"a":[1,2,{"b":null}],"c":true} , ',
    b'{"id":"c","usage":null,',
    b'{"id":"\\u00e9t\xc3\xa9","n2":-0.5,',
    b'{"id":"c",',
    b"{",
    # the first one but for bytes that change the verdict: invalid UTF-8, an error, a control
    # byte, an exponent, where only a reader that compared the whole prefix would see them
    b'{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1733472000,"model":"gpt-4\xff",',
    b'{"id":"chatcmpl-1","object":"chat.completion.chunk","error":{"code":"e"},"model":"gpt-4o",',
    b'{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1733472000,"model":"gpt-4\x01",',
    b'{"id":"chatcmpl-1","object":"chat.completion.chunk","created":17334720e0,"model":"gpt-4o",',
]
_OPENAI_TAILS = [
    b'"choices":[{"index":0,"delta":{"content":"tok"},"finish_reason":null}]}',
    b'"choices":[{"delta":{},"finish_reason":"stop"}]}',
    b'"choices":[],"usage":{"completion_tokens":5}}',
    b'"error":{"code":"provider_unavailable"}}',
    b'"choices":[{"delta":{"content":"a"}}],"choices":[]}',
    b'"choices":[{"delta":{"content":"\xff"}}]}',
    b"}",
]
_CUSTOM_TAILS = [b'"text":"t"}', b'"text":""}', b'"n":3}', b'"err":"x"}', b'"text":"a","text":"b"}', b"}"]


@pytest.mark.parametrize(("profile", "tails"), [
    pytest.param(OPENAI, _OPENAI_TAILS, id="openai"),
    pytest.param(_CUSTOM_PROFILES[1].values[0], _CUSTOM_TAILS, id="custom"),
])
@pytest.mark.parametrize("seed", range(200))
def test_chunks_that_open_alike_are_read_as_one_at_a_time_reads_them(
    seed: int, profile: Profile, tails: list[bytes],
) -> None:
    """Within one read, the compiled reader reads a chunk that opens with the previous
    chunk's unread members from where they end: whatever the chunks (alike, alike but for one
    byte, damaged anywhere, the prefix holding a key it reads), it ends in the state of one
    event at a time."""
    if profiles.OPENAI_FAST_PATH != "c":
        pytest.skip("the compiled fast path is not built (test_the_compiled_fast_path_is_built fails)")
    rng = random.Random(30_000 + seed)
    pool = [rng.choice(_HEADS[:2] * 6 + _HEADS) + rng.choice(tails[:2] * 3 + tails) for _ in range(10)]
    pool += [_mutated(rng, chunk) for chunk in pool[:4]]
    body = _random_body(rng, pool)
    cuts = sorted(rng.sample(range(len(body) + 1), min(len(body) + 1, rng.randint(0, 2))))
    scan = profile._scan if isinstance(profile, CustomProfile) else profiles._openai_scan
    assert scan is not None
    _read_both_ways(scan, body, cuts, profile)


@pytest.mark.parametrize("head", _HEADS)
def test_a_chunk_after_one_that_opened_alike_is_read_whole(head: bytes) -> None:
    """Each head after the first one, in the same read: every byte of the shared prefix is
    compared, so one that differs anywhere (bad UTF-8, an error, a control byte) is read as
    one event at a time reads it."""
    if profiles.OPENAI_FAST_PATH != "c":
        pytest.skip("the compiled fast path is not built (test_the_compiled_fast_path_is_built fails)")
    for tail in _OPENAI_TAILS[:2]:
        body = b"".join(b"data: " + h + tail + b"\n\n" for h in (_HEADS[0], head, _HEADS[0], head))
        _read_both_ways(profiles._openai_scan, body, [])
        _read_both_ways(profiles._openai_scan, body + b"data: [DONE]\n\n", [])


def test_the_custom_fast_path_applies_to_plain_reads_and_only_to_rules_it_reads() -> None:
    """It judges the testbed's own stream in one call per read (so the equivalence above is
    not vacuous); rules it does not read (named content events, pointers of two segments)
    have no fast path, so every event goes through the profile."""
    if profiles.OPENAI_FAST_PATH != "c":
        pytest.skip("the compiled fast path is not built (test_the_compiled_fast_path_is_built fails)")
    scan = TESTBED._scan
    assert scan is not None
    assert scan(b"", s.TESTBED_COMPLETE) == (3, 2, "content", None, None, True, b"")
    assert scan(b"", s.TESTBED_COMPLETE[:20]) is None  # no whole event yet
    assert scan(b"", b'data: {"error": "provider_unavailable"}\n\n') is None  # the profile's
    assert TESTBED.stream()._scan is scan
    assert CustomProfile(content_events=("token",), content_pointer=None)._scan is None
    assert CustomProfile(content_pointer="/delta/text")._scan is None
    assert CustomProfile(error_pointer="/error/code")._scan is None
    assert CustomProfile(usage_pointer="/usage/output")._scan is None
    assert CustomProfile(content_pointer=None)._scan is None  # every data event is content
    keys = CustomProfile(content_pointer="/text", error_pointer="/err", usage_pointer="/n",
                         done_data="END")._scan
    assert keys is not None
    assert keys(b"", b'data: {"text":"a","n":7}\n\ndata: {"n":9}\n\ndata: END\n\n') == (
        3, 1, "content", 9, None, True, b"")


# -- the Anthropic profile's compiled fast path, against one event at a time ---------------

_ANTHROPIC_POOL = [
    (b"message_start", b'{"type":"message_start","message":{"id":"m","usage":{"output_tokens":1}}}'),
    (b"content_block_start", b'{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}'),
    (b"content_block_delta", b'{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hi"}}'),
    (b"content_block_delta", b'{"type":"content_block_delta","delta":{"type":"text_delta","text":""}}'),
    (b"content_block_delta", b'{"type":"content_block_delta","delta":{"type":"thinking_delta","thinking":"hm"}}'),
    (b"content_block_delta", b'{"type":"content_block_delta","delta":{"type":"input_json_delta","partial_json":"{\\"a"}}'),
    (b"content_block_delta", b'{"type":"content_block_delta","delta":"text"}'),
    (b"content_block_delta", b'{"type":"content_block_delta"}'),
    (b"content_block_stop", b'{"type":"content_block_stop","index":0}'),
    (b"message_delta", b'{"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":15}}'),
    (b"message_delta", b'{"type":"message_delta","delta":{"stop_reason":7},"usage":{"output_tokens":-2}}'),
    (b"message_delta", b'{"type":"message_delta","delta":[],"usage":"x"}'),
    (b"ping", b'{"type": "ping"}'),
    (b"ping", b"not json at all"),
    (b"error", b'{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}'),
    (None, b'{"type":"content_block_delta","delta":{"type":"text_delta","text":"unnamed"}}'),
    (None, b'{"type":"error","error":{"type":"api_error"}}'),
    (None, b'{"type":"message_stop"}'),
    (b"unknown_event", b'{"type":"content_block_delta","delta":{"type":"text_delta","text":"x"}}'),
    (b"message_delta ", b'{"type":"message_delta","usage":{"output_tokens":3}}'),
    (b"content_block_delta", b"[1]"),
    (b"content_block_delta", b"{bad"),
    (b"message_stop", b'{"type":"message_stop"}'),
]


@pytest.mark.parametrize("seed", range(300))
def test_the_anthropic_fast_path_reads_every_stream_as_one_event_at_a_time_does(seed: int) -> None:
    """Random Anthropic streams (named and unnamed events, pings, errors, bad deltas, damaged
    bytes, stray lines and line ends), cut into random reads: the profile with its compiled
    fast path ends in exactly the state of the same profile reading one event at a time."""
    if profiles.OPENAI_FAST_PATH != "c":
        pytest.skip("the compiled fast path is not built (test_the_compiled_fast_path_is_built fails)")
    rng = random.Random(30_000 + seed)
    common = _ANTHROPIC_POOL[2:3] * 8 + _ANTHROPIC_POOL[:13]
    blocks = []
    for _ in range(rng.randint(1, 14)):
        name, data = rng.choice(common if rng.random() < 0.8 else _ANTHROPIC_POOL)
        if rng.random() < 0.15:
            data = _mutated(rng, data)
        lines = [b"data: " + data] if name is None else [b"event: " + name, b"data: " + data]
        if rng.random() < 0.05:
            lines.insert(rng.randint(0, len(lines)), rng.choice([*_LINE_POOL, b"data: {}"]))
        blocks.append(b"\n".join(lines))
    if rng.random() < 0.7:
        blocks.append(b'event: message_stop\ndata: {"type":"message_stop"}')
    body = b"".join(block + b"\n\n" for block in blocks)
    if rng.random() < 0.1:
        body = body.replace(b"\n", rng.choice([b"\r\n", b"\r"]))
    if rng.random() < 0.1:
        body = body[: rng.randint(0, len(body))]
    cuts = sorted(rng.sample(range(len(body) + 1), min(len(body) + 1, rng.randint(0, 5))))
    scan = ANTHROPIC.stream()._scan
    assert scan is not None
    _read_both_ways(scan, body, cuts, ANTHROPIC)


def test_the_anthropic_fast_path_takes_a_whole_message_in_one_call() -> None:
    if profiles.OPENAI_FAST_PATH != "c":
        pytest.skip("the compiled fast path is not built (test_the_compiled_fast_path_is_built fails)")
    scan = ANTHROPIC.stream()._scan
    assert scan is not None
    assert scan(b"", s.ANTHROPIC_COMPLETE) == (8, 2, "content", 15, "end_turn", True, b"")
    assert scan(b"", s.ANTHROPIC_OVERLOADED) is None  # an error event: the profile reads it
    assert scan(b"", s.ANTHROPIC_COMPLETE[:40]) is None  # no whole event yet
