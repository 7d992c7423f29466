"""One canary chat request through the target's protocol profile: the prober's every second,
preflight's once. Keeps the status, the outcome class, a short code, the serving region and
timings; never the content (the error message, at most 200 characters, only for one line)."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass

import anyio
import httpx

from chaos.protocols import Profile, classify_outcome, error_message, json_error_code

CANARY_PAYLOAD = "hi"
_ERROR_BODY_BYTES = 2048


@dataclass(frozen=True, slots=True)
class CanaryResult:
    status: int | None
    cls: str  # an outcome class (STATUS_CLASSES); "2xx" is a complete stream
    code: str | None = None  # short error code (HTTP error body or in-band error)
    message: str | None = None  # the error's own message, at most 200 characters
    failure: str | None = None  # on the wire: timeout, connect, reset, protocol, stall
    region: str | None = None
    first_byte_ms: float | None = None
    first_token_ms: float | None = None

    @property
    def ok(self) -> bool:
        return self.cls == "2xx"

    def describe(self) -> str:
        """One short phrase: `200 broken provider_unavailable "upstream ..."`, `timeout`."""
        if self.status is None:
            return f"chat {self.failure or 'transport failure'}"
        parts = [f"chat {self.status}"]
        if self.cls not in ("2xx", "4xx", "5xx", "429"):
            parts.append(self.cls)
        if self.code:
            parts.append(self.code)
        if self.message:
            parts.append(f'"{self.message}"')
        return " ".join(parts)


async def send_canary(
    client: httpx.AsyncClient, url: str, profile: Profile, *, token: str | None,
    headers: tuple[tuple[str, str], ...] = (), region_header: str = "x-served-by-region",
    timeout_s: float, stall_s: float | None = None, payload: str = CANARY_PAYLOAD,
) -> CanaryResult:
    """Send one streamed chat request and read it to its end through `profile`."""
    request = profile.request(payload, "canary", token)
    sent = {"accept": "text/event-stream", "content-type": "application/json"}
    sent.update({k.lower(): v for k, v in request.headers})
    sent.update({k.lower(): v for k, v in headers})
    # A unique id, so a failed canary can be found in the platform's own logs.
    sent.setdefault("x-request-id", f"chaos-canary-{uuid.uuid4().hex[:16]}")
    stream = profile.stream()
    started = time.monotonic()
    status: int | None = None
    region: str | None = None
    first_byte: float | None = None
    body = b""
    failure: str | None = None
    try:
        with anyio.fail_after(timeout_s):
            async with client.stream("POST", url, content=request.body, headers=sent,
                                     timeout=httpx.Timeout(timeout_s,
                                                           read=stall_s or timeout_s)) as response:
                status = response.status_code
                region = response.headers.get(region_header)
                is_2xx = 200 <= status < 300
                async for chunk in response.aiter_bytes():
                    now = time.monotonic()
                    if first_byte is None and chunk:
                        first_byte = now
                    if is_2xx:
                        stream.feed(chunk, now)
                        if stall_s is not None and (stream.last_event_at or started) + stall_s < now:
                            failure = "stall"
                            break
                    elif len(body) < _ERROR_BODY_BYTES:
                        body += chunk[: _ERROR_BODY_BYTES - len(body)]
    except (TimeoutError, httpx.TimeoutException):
        # No byte for the read timeout (the stall bound) or the whole bound passed: after a
        # 2xx head that is a stalled stream, before it a timeout.
        failure = "stall" if status is not None and 200 <= status < 300 else "timeout"
    except httpx.ConnectError:
        failure = "connect"
    except httpx.RemoteProtocolError:
        failure = "reset" if status is not None else "protocol"
    except httpx.HTTPError:
        failure = "reset"
    is_2xx = status is not None and 200 <= status < 300
    if is_2xx:
        stream.finish(time.monotonic())
    cls, code = classify_outcome(status, failure, stream if is_2xx else None)
    message = None
    if is_2xx:
        message = error_message(stream.error_data)
    elif body:
        code = json_error_code(body)
        message = error_message(body)
    return CanaryResult(
        status=status, cls=cls, code=code, message=message, failure=failure, region=region,
        first_byte_ms=None if first_byte is None else (first_byte - started) * 1000.0,
        first_token_ms=(None if stream.first_content_at is None
                        else (stream.first_content_at - started) * 1000.0),
    )
