"""What one request sends and what it came to on the wire: the request bytes, the timeouts,
the `Exchange` outcome and the error code read from a non-2xx body's first bytes."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import NamedTuple

from chaos.protocols import json_error_code

ERROR_HEAD_BYTES = 256
_ERROR_CODE = re.compile(rb'"error"\s*:\s*(?:\{[^}]*?"code"\s*:\s*)?"([A-Za-z0-9_.:-]{1,64})"')


@dataclass(frozen=True, slots=True)
class Timeouts:
    """Per-request bounds. `stall_s`: after a 2xx head, the longest wait for the next stream
    event (comment lines do not count: a keep-alive must not hide a dead provider); on a
    non-2xx body, the longest wait between bytes."""

    connect_s: float
    first_byte_s: float
    stall_s: float
    total_s: float
    first_check_s: float = field(init=False)  # after a request starts, the first deadline check

    def __post_init__(self) -> None:
        object.__setattr__(self, "first_check_s", min(self.first_byte_s, self.stall_s, self.total_s))


class Exchange(NamedTuple):
    """The outcome of one request on the wire. Instants are `time.monotonic()` seconds.

    `cls` is its outcome class (STATUS_CLASSES; "2xx" is a complete stream) and `code` the
    short error code that came with it (a non-2xx body's, or the in-band error's). `kind` is
    how the exchange failed on the wire (connect/reset/timeout/protocol/stall/closed) or
    None; `status` is None exactly when no status line was completed. `first_token_at` is
    the first content-bearing event, `done_at` the completion marker. (A NamedTuple, not a
    frozen dataclass: built once per request on the hot path, positionally.)
    """

    status: int | None
    cls: str
    code: str | None
    kind: str | None
    first_byte_at: float | None
    first_token_at: float | None
    done_at: float | None
    ended_at: float
    tokens: int  # output tokens: the usage report's where sent, else content chunks
    tokens_from_usage: bool
    gaps_us: list[int]  # between successive reads that carried content
    first_kind: str | None  # content, reasoning or tool_call
    events: int
    bytes_received: int
    region: str | None
    keep_alive: bool


def error_code_of(head: bytes) -> str | None:
    """The short code of a JSON error body from its first bytes (content never kept): the
    error's `code`, else its `type` (OpenAI and Anthropic shapes), else a plain string."""
    code = json_error_code(head)
    if code is not None:
        return code
    match = _ERROR_CODE.search(head)  # truncated JSON: the code usually comes first
    return match.group(1).decode("ascii") if match else None


def build_request(
    *, method: str, path: str, host_header: str, body: bytes,
    headers: tuple[tuple[str, str], ...] = (),
) -> bytes:
    """The request bytes (built once per subject, reused for every request)."""
    head, body = request_parts(method=method, path=path, host_header=host_header, body=body,
                               headers=headers)
    return head + b"\r\n" + body


def request_parts(
    *, method: str, path: str, host_header: str, body: bytes,
    headers: tuple[tuple[str, str], ...] = (),
) -> tuple[bytes, bytes]:
    """(head, body): the head ends after its last header line, so per-request headers (the
    request id) can follow it; the request is head + more header lines + CRLF + body."""
    lines = [
        f"{method} {path} HTTP/1.1",
        f"Host: {host_header}",
        "User-Agent: chaos-load/1",
        "Accept: text/event-stream",
        "Content-Type: application/json",
        f"Content-Length: {len(body)}",
    ]
    lines.extend(f"{name}: {value}" for name, value in headers)
    return ("\r\n".join(lines) + "\r\n").encode("latin-1"), body
