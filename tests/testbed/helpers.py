"""Small HTTP helpers for testbed tests: chat calls and Prometheus metric reads."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families


@dataclass(frozen=True)
class ChatResult:
    status: int
    headers: httpx.Headers
    events: list[str]  # SSE data payloads, in order
    error: str | None  # JSON error code for non-2xx


def chat(base_url: str, subject: str = "alice", message: str = "hi", *, timeout_s: float = 10.0,
         content_type: str = "application/json", token: str | None = None) -> ChatResult:
    headers = {"content-type": content_type,
               "authorization": token if token is not None else f"Bearer tb-{subject}"}
    if token == "":
        del headers["authorization"]
    body = httpx.Request("POST", "/", json={"message": message}).read()
    with httpx.stream("POST", f"{base_url}/api/chat", content=body, headers=headers,
                      timeout=timeout_s) as resp:
        if resp.status_code != 200:
            resp.read()
            return ChatResult(resp.status_code, resp.headers, [], resp.json().get("error"))
        events = [line[6:] for line in resp.iter_lines() if line.startswith("data: ")]
        return ChatResult(200, resp.headers, events, None)


def metric(url: str, name: str, **labels: str) -> float:
    """Sum of the samples of `name` at `url`/metrics whose labels include `labels`."""
    text = httpx.get(f"{url}/metrics", timeout=5).text
    total, found = 0.0, False
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                total += sample.value
                found = True
    if not found:
        raise AssertionError(f"metric {name}{labels} not exposed at {url}/metrics")
    return total


@dataclass(frozen=True)
class StreamResult:
    """One streamed answer as the client saw it: raw body bytes, and each SSE event with the
    monotonic time it was complete."""

    status: int
    headers: httpx.Headers
    raw: bytes
    events: list[tuple[float, str]]  # (arrival, data payload) per `data:` event
    error_body: Any  # the JSON body of a non-2xx answer

    @property
    def data(self) -> list[str]:
        return [d for _, d in self.events]

    def chunks(self) -> list[dict[str, Any]]:
        """The JSON `data:` payloads (everything but `[DONE]`)."""
        return [json.loads(d) for d in self.data if d != "[DONE]"]


def openai_body(message: str = "hi", **extra: Any) -> dict[str, Any]:
    return {"model": "tb-model", "messages": [{"role": "user", "content": message}],
            "stream": True, **extra}


def stream_chat(base_url: str, body: Any, *, subject: str = "alice", path: str = "/v1/chat/completions",
                timeout_s: float = 10.0,
                on_first_content: Callable[[], None] | None = None) -> StreamResult:
    """POST a chat body and read the whole answer; `on_first_content` runs once, right after the
    first event that carries content (a token), while the stream is still open."""
    headers = {"content-type": "application/json", "authorization": f"Bearer tb-{subject}"}
    raw = bytearray()
    events: list[tuple[float, str]] = []
    pending = b""
    with httpx.stream("POST", f"{base_url}{path}", json=body, headers=headers,
                      timeout=timeout_s) as resp:
        if resp.status_code != 200:
            resp.read()
            return StreamResult(resp.status_code, resp.headers, resp.content, [], resp.json())
        for part in resp.iter_raw():
            raw += part
            pending += part
            *blocks, pending = pending.split(b"\n\n")
            for block in blocks:
                for line in block.split(b"\n"):
                    if line.startswith(b"data: "):
                        data = line[6:].decode()
                        events.append((time.monotonic(), data))
                        if on_first_content is not None and _has_content(data):
                            on_first_content()
                            on_first_content = None
        return StreamResult(200, resp.headers, bytes(raw), events, None)


def _has_content(data: str) -> bool:
    try:
        event = json.loads(data)
    except ValueError:
        return False
    if not isinstance(event, dict):
        return False
    if "token" in event:
        return True
    choices = event.get("choices") or [{}]
    return bool(choices[0].get("delta", {}).get("content"))
