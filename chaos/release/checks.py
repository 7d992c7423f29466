"""The checklist items, each one real HTTP exchange (or a burst of them) judged into a Criterion.

Response content is never kept: a chat answer is parsed for its SSE structure only (how many
events, whether a done marker closed it), and an error body only for its short error code.
"""

from __future__ import annotations

import json
import re
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import anyio
import httpx

from chaos.protocols import CustomProfile, Profile
from chaos.slo.verdict import Criterion, Verdict

SCOPE = "release"
_CODE = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


@dataclass(frozen=True, slots=True)
class Target:
    """Where the checklist sends its requests, and how it authenticates one subject."""

    base_url: str
    chat_path: str
    health_path: str
    token_template: str | None  # already ${VAR}-expanded; "{subject}" still to fill in
    region_header: str | None = None
    profile: Profile = field(default_factory=CustomProfile)  # the chat request's wire format

    def url(self, path: str) -> str:
        return self.base_url.rstrip("/") + path

    def chat_body(self, payload: str, subject: str) -> bytes:
        """The chat request body for `payload` in the target's protocol (JSON)."""
        return self.profile.request(payload, subject, None).body

    def headers(self, subject: str) -> dict[str, str]:
        if self.token_template is None:
            return {}
        return {"authorization": "Bearer " + self.token_template.replace("{subject}", subject)}

    def json_headers(self, subject: str) -> dict[str, str]:
        """Auth headers (the profile's own, e.g. x-api-key) and a JSON content type."""
        token = (None if self.token_template is None
                 else self.token_template.replace("{subject}", subject))
        shaped = {k.lower(): v for k, v in self.profile.request("", subject, token).headers}
        return {"content-type": "application/json", **shaped}


@dataclass(frozen=True, slots=True)
class Exchange:
    """What one request produced, without its content."""

    status: int | None  # None: transport failure
    latency_ms: float
    error: str | None = None  # transport failure kind or short error code of the body
    content_type: str = ""
    region: str | None = None
    events: int = 0  # SSE events other than the done marker
    done: bool = False  # the stream ended with a done marker

    def details(self) -> dict[str, Any]:
        out: dict[str, Any] = {"status": self.status, "latency_ms": round(self.latency_ms, 1)}
        for name in ("error", "region"):
            if getattr(self, name) is not None:
                out[name] = getattr(self, name)
        if self.content_type:
            out["content_type"] = self.content_type
        return out


async def exchange(
    client: httpx.AsyncClient, method: str, url: str, *, headers: Mapping[str, str],
    json_body: Any = None, content: bytes | None = None, region_header: str | None = None,
    timeout_s: float,
) -> Exchange:
    """One request, its body read to the end within `timeout_s` (a stream included)."""
    start = time.monotonic()
    try:
        with anyio.fail_after(timeout_s):
            async with client.stream(
                method, url, headers=dict(headers), json=json_body, content=content
            ) as response:
                body = await response.aread()
    except TimeoutError:
        return Exchange(None, _ms_since(start), error="timeout")
    except httpx.TransportError as exc:
        return Exchange(None, _ms_since(start), error=_transport_kind(exc))
    content_type = response.headers.get("content-type", "").split(";")[0].strip()
    region = response.headers.get(region_header) if region_header else None
    if content_type == "text/event-stream":
        events, done = _sse_structure(body)
        return Exchange(response.status_code, _ms_since(start), None, content_type, region, events, done)
    code = _error_code(body) if response.status_code >= 400 else None
    return Exchange(response.status_code, _ms_since(start), code, content_type, region)


def _ms_since(start: float) -> float:
    return (time.monotonic() - start) * 1000.0


def _transport_kind(exc: httpx.TransportError) -> str:
    if isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout):
        return "connect"
    if isinstance(exc, httpx.TimeoutException):
        return "timeout"
    if isinstance(exc, httpx.RemoteProtocolError):
        return "protocol"
    return "reset"


def _error_code(body: bytes) -> str | None:
    try:
        obj = json.loads(body[:4096])
    except ValueError:
        return None
    if isinstance(obj, Mapping):
        for key in ("error", "code", "detail"):
            value = obj.get(key)
            if isinstance(value, str) and _CODE.match(value):
                return value
    return None


def _sse_structure(body: bytes) -> tuple[int, bool]:
    """(events before the done marker, whether a done marker ended the stream). A done marker
    is `event: done`, `data: [DONE]`, or a JSON data object with `"done": true` / `"type": "done"`."""
    text = body.decode("utf-8", errors="replace").replace("\r\n", "\n")
    events = 0
    for block in text.split("\n\n"):
        name, data = "message", []
        for line in block.split("\n"):
            if line.startswith("event:"):
                name = line[6:].strip()
            elif line.startswith("data:"):
                data.append(line[5:].strip())
        if name == "message" and not data:
            continue  # comment, keep-alive or trailing blank
        if _is_done(name, "\n".join(data)):
            return events, True
        events += 1
    return events, False


def _is_done(name: str, data: str) -> bool:
    if name == "done" or data == "[DONE]":
        return True
    try:
        obj = json.loads(data)
    except ValueError:
        return False
    return isinstance(obj, Mapping) and (obj.get("done") is True or obj.get("type") == "done")


def status_criterion(id_: str, what: str, ex: Exchange, expected: int) -> Criterion:
    """PASS when the exchange answered exactly `expected`."""
    ok = ex.status == expected
    if ex.status is None:
        reason = f"{what}: no HTTP answer ({ex.error})"
    elif ok:
        reason = f"{what} answered {expected}"
    else:
        reason = f"{what} answered {ex.status}" + (f" ({ex.error})" if ex.error else "") + f", expected {expected}"
    return Criterion(
        id=id_, verdict=Verdict.PASS if ok else Verdict.FAIL,
        measured=float(ex.status) if ex.status is not None else None, threshold=float(expected),
        unit="status", scope=SCOPE, reason=reason, comparison="==", details=ex.details(),
    )


def chat_happy_criterion(ex: Exchange) -> Criterion:
    """200, an event stream, at least one answer event and a done marker: a governed response."""
    problems = []
    if ex.status != 200:
        problems.append(f"status {ex.status if ex.status is not None else ex.error}"
                        + (f" ({ex.error})" if ex.status is not None and ex.error else ""))
    elif ex.content_type != "text/event-stream":
        problems.append(f"content type {ex.content_type or 'missing'}, not text/event-stream")
    else:
        if ex.events < 1:
            problems.append("no answer event before the end of the stream")
        if not ex.done:
            problems.append("the stream ended without a done marker")
    ok = not problems
    reason = (f"200 with a streamed answer of {ex.events} events and a done marker" if ok
              else "not a governed answer: " + "; ".join(problems))
    details = ex.details() | {"events": ex.events, "done_marker": ex.done}
    return Criterion(
        id="release.chat_happy_path", verdict=Verdict.PASS if ok else Verdict.FAIL,
        measured=float(ex.status) if ex.status is not None else None, threshold=200.0,
        unit="status", scope=SCOPE, reason=reason, comparison="==", details=details,
    )


def status_class(ex: Exchange) -> str:
    if ex.status is None:
        return "transport"
    if ex.status == 429:
        return "429"
    return f"{ex.status // 100}xx" if ex.status // 100 in (2, 5) else "4xx"


async def burst(
    client: httpx.AsyncClient, target: Target, subject: str, payload: str, requests: int,
    timeout_s: float,
) -> list[Exchange]:
    """`requests` chat requests from one subject, all started at once (none waits for another)."""
    results: list[Exchange] = []

    async def one() -> None:
        results.append(await exchange(
            client, "POST", target.url(target.chat_path), headers=target.json_headers(subject),
            content=target.chat_body(payload, subject), region_header=target.region_header,
            timeout_s=timeout_s,
        ))

    async with anyio.create_task_group() as tg:
        for _ in range(requests):
            tg.start_soon(one)
    return results


def burst_criteria(results: list[Exchange]) -> list[Criterion]:
    """At least one 429 (load shedding works) and no server-side failure (5xx or transport)."""
    counts = Counter(status_class(ex) for ex in results)
    codes = Counter(ex.error for ex in results if ex.error)
    details = {"requests": len(results), "counts": dict(counts), "error_codes": dict(codes)}
    n429 = counts["429"]
    server = counts["5xx"] + counts["transport"]
    return [
        Criterion(
            id="release.chat_burst.rate_limited",
            verdict=Verdict.PASS if n429 >= 1 else Verdict.FAIL,
            measured=float(n429), threshold=1.0, unit="count", scope=SCOPE, comparison=">=",
            reason=(f"{n429} of {len(results)} concurrent requests from one subject were shed with 429"
                    if n429 else f"none of {len(results)} concurrent requests from one subject got 429: "
                    "the per-subject rate limit did not engage"),
            details=details,
        ),
        Criterion(
            id="release.chat_burst.no_5xx",
            verdict=Verdict.PASS if server == 0 else Verdict.FAIL,
            measured=float(server), threshold=0.0, unit="count", scope=SCOPE, comparison="<=",
            reason=(f"no 5xx or transport failure in the burst of {len(results)}" if server == 0
                    else f"{server} of {len(results)} burst requests failed server-side "
                    f"({counts['5xx']} 5xx, {counts['transport']} transport)"),
            details=details,
        ),
    ]
