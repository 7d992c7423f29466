"""Small HTTP helpers for testbed tests: chat calls and Prometheus metric reads."""

from __future__ import annotations

from dataclasses import dataclass

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
