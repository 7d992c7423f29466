"""What one request sends and what it came to on the wire: the request bytes, the timeouts,
the `Exchange` outcome and the error code read from a non-2xx body's first bytes."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import NamedTuple

ERROR_HEAD_BYTES = 256
_ERROR_CODE = re.compile(rb'"error"\s*:\s*(?:\{[^}]*?"code"\s*:\s*)?"([A-Za-z0-9_.:-]{1,64})"')


@dataclass(frozen=True, slots=True)
class Timeouts:
    connect_s: float
    first_byte_s: float
    idle_s: float
    total_s: float
    first_check_s: float = field(init=False)  # after a request starts, the first deadline check

    def __post_init__(self) -> None:
        object.__setattr__(self, "first_check_s", min(self.first_byte_s, self.idle_s, self.total_s))


class Exchange(NamedTuple):
    """The outcome of one request on the wire. Instants are `time.monotonic()` seconds.

    `kind` is a transport failure kind (connect/reset/timeout/protocol/broken) or None when
    the server answered; `status` is None exactly when no status line was completed.
    (A NamedTuple, not a frozen dataclass: it is built once per request on the hot path,
    positionally, at a third of the cost.)
    """

    status: int | None
    kind: str | None
    first_byte_at: float | None
    ended_at: float
    events: int
    bytes_received: int
    region: str | None
    error_code: str | None
    keep_alive: bool


def error_code_of(head: bytes) -> str | None:
    """The short `error` code of a JSON error body from its first bytes (content never kept)."""
    try:
        doc = json.loads(head)
    except (ValueError, UnicodeDecodeError):
        doc = None
    if isinstance(doc, dict):
        err = doc.get("error")
        if isinstance(err, dict):
            err = err.get("code")
        if isinstance(err, str) and 0 < len(err) <= 64 and err.isprintable():
            return err
        return None
    match = _ERROR_CODE.search(head)  # truncated JSON: the code usually comes first
    return match.group(1).decode("ascii") if match else None


def build_request(
    *, method: str, path: str, host_header: str, body: bytes, token: str | None,
) -> bytes:
    """The request bytes (built once per subject, reused for every request)."""
    lines = [
        f"{method} {path} HTTP/1.1",
        f"Host: {host_header}",
        "User-Agent: chaos-load/1",
        "Accept: text/event-stream",
        "Content-Type: application/json",
        f"Content-Length: {len(body)}",
    ]
    if token:
        lines.append(f"Authorization: Bearer {token}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body
