"""A client that reads chat streams through the framework's protocol profiles, as the load
driver does: what a gateway behind the fault proxy would see."""

from __future__ import annotations

import time
from dataclasses import dataclass

import httpx

from chaos.protocols import AnthropicProfile, OpenAIProfile, classify_outcome

KEY = "sk-test-s0"


@dataclass(frozen=True)
class Seen:
    status: int
    outcome: str  # the measurement contract's class: 2xx, broken, truncated, stalled, 429, 5xx
    code: str | None
    content_chunks: int
    headers: httpx.Headers
    body: bytes


def chat(base_url: str, protocol: str = "openai", *, stall_s: float = 5.0,
         client: httpx.Client | None = None) -> Seen:
    """One streamed chat request; a read pause over `stall_s` after the head is a stall."""
    if protocol == "anthropic":
        profile: OpenAIProfile | AnthropicProfile = AnthropicProfile(model="claude-test", max_tokens=64)
        path = "/v1/messages"
    else:
        profile = OpenAIProfile(model="gpt-test")
        path = "/v1/chat/completions"
    request = profile.request("hello", "s0", KEY)
    http = client or httpx.Client()
    stream = profile.stream()
    body = b""
    failure: str | None = None
    try:
        with http.stream("POST", base_url + path, content=request.body, headers=dict(request.headers),
                         timeout=httpx.Timeout(10.0, read=stall_s)) as response:
            try:
                for data in response.iter_raw():
                    body += data
                    stream.feed(data, time.monotonic())
            except httpx.ReadTimeout:
                failure = "stall"
            except httpx.RemoteProtocolError:
                failure = "closed"
            stream.finish(time.monotonic())
            outcome, code = classify_outcome(response.status_code, failure, stream)
            return Seen(response.status_code, outcome, code, stream.content_chunks,
                        response.headers, body)
    finally:
        if client is None:
            http.close()
