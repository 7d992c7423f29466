"""The protocol layer's cost per response, measured side by side: the OpenAI profile's fast
path (whole data events judged in one call; compiled, chaos/protocols/_openai_scan.c, and its
Python twin) against the same profile one event at a time, on the body the load benchmarks
serve (role chunk, N content chunks, finish, usage, [DONE]) and on the same body as a real
gateway words it (long ids and model names), read in one piece and one event per read; then the testbed dialect (`CustomProfile()`, `_scan.custom`) and Anthropic
messages (`_scan.anthropic`) the same way.

    python benchmarks/stream_reader.py [--events 5] [--seconds 2]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from chaos.protocols import AnthropicProfile, CustomProfile, OpenAIProfile, profiles
from chaos.protocols.stream import StreamState

_HEAD = b'data: {"id":"chatcmpl-t","object":"chat.completion.chunk","created":1,"model":"t",'


def body(events: int) -> list[bytes]:
    """The events of one response, as the Go SSE server's `format=openai` sends them."""
    out = [_HEAD + b'"choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}\n\n']
    out += [_HEAD + b'"choices":[{"index":0,"delta":{"content":"tok%d "},"finish_reason":null}]}\n\n' % i
            for i in range(events)]
    out.append(_HEAD + b'"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\n')
    out.append(_HEAD + b'"choices":[],"usage":{"prompt_tokens":1,"completion_tokens":%d,'
               b'"total_tokens":%d}}\n\n' % (events, events + 1))
    out.append(b"data: [DONE]\n\n")
    return out


_GATEWAY_HEAD = (b'data: {"id":"chatcmpl-AbCdEfGhIjKlMnOpQrStUvWxYz012","object":"chat.completion.chunk",'
                 b'"created":1733472000,"model":"gpt-4o-mini-2024-07-18","system_fingerprint":"fp_0ba0d124f1",')


def gateway_body(events: int) -> list[bytes]:
    """The same response as a real OpenAI-compatible gateway words it: long ids, a dated model
    name, a system fingerprint, logprobs, longer tokens."""
    return [event.replace(_HEAD, _GATEWAY_HEAD).replace(b'"finish_reason"', b'"logprobs":null,"finish_reason"')
            .replace(b'"tok', b'"a somewhat longer tok') for event in body(events)]


def anthropic_body(events: int) -> list[bytes]:
    """The events of one Anthropic messages response with `events` text deltas."""
    out = [b'event: message_start\ndata: {"type":"message_start","message":{"id":"msg_1","type":'
           b'"message","role":"assistant","content":[],"model":"m","usage":{"input_tokens":3,'
           b'"output_tokens":1}}}\n\n',
           b'event: content_block_start\ndata: {"type":"content_block_start","index":0,'
           b'"content_block":{"type":"text","text":""}}\n\n',
           b'event: ping\ndata: {"type": "ping"}\n\n']
    out += [b'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,'
            b'"delta":{"type":"text_delta","text":"tok%d "}}\n\n' % i for i in range(events)]
    out += [b'event: content_block_stop\ndata: {"type":"content_block_stop","index":0}\n\n',
            b'event: message_delta\ndata: {"type":"message_delta","delta":{"stop_reason":"end_turn",'
            b'"stop_sequence":null},"usage":{"output_tokens":%d}}\n\n' % events,
            b'event: message_stop\ndata: {"type":"message_stop"}\n\n']
    return out


def per_response_us(state: StreamState, reads: list[bytes], seconds: float) -> float:
    n = 0
    deadline = time.perf_counter() + seconds
    t0 = time.perf_counter()
    while time.perf_counter() < deadline:
        for _ in range(1000):
            state.reset()
            for i, read in enumerate(reads):
                state.feed(read, float(i))
            state.finish(99.0)
        n += 1000
    assert state.done_at is not None
    assert state.malformed is None
    assert state.error_code is None
    return (time.perf_counter() - t0) / n * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=5, help="content chunks per response")
    parser.add_argument("--seconds", type=float, default=2.0, help="per measurement")
    args = parser.parse_args()
    profile = OpenAIProfile(model="m")
    if profiles.OPENAI_FAST_PATH != "c":
        print("!!! the compiled fast path is not built (pip install -e . with a C compiler): "
              "'compiled' below is the Python one !!!")
    for title, events in (("OpenAI response (the load benchmarks' body)", body(args.events)),
                          ("OpenAI response as a gateway words it", gateway_body(args.events))):
        print(f"{title}, {len(events)} events ({sum(map(len, events)):,} bytes); "
              "us CPU per response, lower is better")
        print(f"{'reads':<22}{'compiled':>10}{'python':>10}{'per event':>11}"
              f"{'per event/compiled':>20}{'python/compiled':>17}")
        for label, reads in (("whole body in 1 read", [b"".join(events)]),
                             ("1 event per read", events)):
            compiled = per_response_us(StreamState(profile.classify, profiles._openai_scan), reads,
                                       args.seconds)
            python = per_response_us(StreamState(profile.classify, profiles._openai_scan_py), reads,
                                     args.seconds)
            slow = per_response_us(StreamState(profile.classify), reads, args.seconds)
            print(f"{label:<22}{compiled:>10.2f}{python:>10.2f}{slow:>11.2f}"
                  f"{slow / compiled:>19.2f}x{python / compiled:>16.2f}x")
        print()
    # The testbed dialect (`_scan.custom`) and Anthropic (`_scan.anthropic`): compiled or per event.
    tokens = [b'data: {"token": "tok%d "}\n\n' % i for i in range(args.events)] + [b"data: [DONE]\n\n"]
    for title, other, reads_of in (("testbed dialect (CustomProfile())", CustomProfile(), tokens),
                                   ("Anthropic messages", AnthropicProfile(model="m"),
                                    anthropic_body(args.events))):
        print(f"{title}, {len(reads_of)} events ({sum(map(len, reads_of))} bytes)")
        print(f"{'reads':<22}{'compiled':>10}{'per event':>11}{'per event/compiled':>20}")
        for label, reads in (("whole body in 1 read", [b"".join(reads_of)]),
                             ("1 event per read", reads_of)):
            compiled = per_response_us(other.stream(), reads, args.seconds)
            slow = per_response_us(StreamState(other.classify), reads, args.seconds)
            print(f"{label:<22}{compiled:>10.2f}{slow:>11.2f}{slow / compiled:>19.2f}x")
        print()


if __name__ == "__main__":
    main()
