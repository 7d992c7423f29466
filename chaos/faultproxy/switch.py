"""The fault switch: which HTTP-level fault is on, drawn per request at its rate.

The JSON is the testbed provider's (`chaos/testbed/provider.py`), so `provider_outage`'s
`http_errors` and `stream_*` modes drive either one through `http_fault`:
`{"status", "retry_after_s", "rate"}` or `{"stream", "after_chunks", "rate", "code"}`.
"""

from __future__ import annotations

import random
import re
from dataclasses import asdict, dataclass
from typing import Any, Literal

StreamKind = Literal["error", "truncate", "stall"]
STREAM_KINDS: tuple[StreamKind, ...] = ("error", "truncate", "stall")
_CODE = re.compile(r"[a-z][a-z0-9_]{0,40}")


def _rate(raw: dict[str, object]) -> float:
    rate = raw.get("rate", 1.0)
    if not isinstance(rate, int | float) or isinstance(rate, bool) or not 0.0 <= rate <= 1.0:
        raise ValueError("fault.rate must be a number in [0, 1]")
    return float(rate)


def _only(raw: dict[str, object], allowed: tuple[str, ...]) -> None:
    extra = sorted(set(raw) - set(allowed))
    if extra:
        raise ValueError(f"unknown fault field(s) {', '.join(extra)} (allowed: {', '.join(allowed)})")


@dataclass(frozen=True, slots=True)
class HttpFault:
    """Answer `status` (with Retry-After when given) instead of forwarding, for a `rate`
    fraction of requests."""

    status: int
    retry_after_s: float | None
    rate: float

    @classmethod
    def parse(cls, raw: dict[str, object]) -> HttpFault:
        _only(raw, ("status", "retry_after_s", "rate"))
        status = raw.get("status")
        if not isinstance(status, int) or isinstance(status, bool) or not 400 <= status <= 599:
            raise ValueError("fault.status must be an HTTP error status (400..599)")
        retry = raw.get("retry_after_s")
        if retry is not None and (not isinstance(retry, int | float) or isinstance(retry, bool)
                                  or retry < 0):
            raise ValueError("fault.retry_after_s must be a number >= 0")
        return cls(status, None if retry is None else float(retry), _rate(raw))

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class StreamFault:
    """For a `rate` fraction of requests: forward `after_chunks` content events of the
    upstream's stream, then an in-band error with `code` (`error`), the end of the HTTP
    message (`truncate`), or nothing until the client goes away (`stall`)."""

    stream: StreamKind
    after_chunks: int
    rate: float
    code: str | None  # `error` only

    @classmethod
    def parse(cls, raw: dict[str, object]) -> StreamFault:
        kind = raw.get("stream")
        if kind not in STREAM_KINDS:
            raise ValueError(f"fault.stream must be one of {', '.join(STREAM_KINDS)}")
        _only(raw, ("stream", "after_chunks", "rate", "code") if kind == "error"
              else ("stream", "after_chunks", "rate"))
        after = raw.get("after_chunks", 1)
        if not isinstance(after, int) or isinstance(after, bool) or after < 0:
            raise ValueError("fault.after_chunks must be an integer >= 0")
        code = raw.get("code", "overloaded_error") if kind == "error" else None
        if code is not None and not (isinstance(code, str) and _CODE.fullmatch(code)):
            raise ValueError("fault.code must match ^[a-z][a-z0-9_]{0,40}$")
        return cls(kind, after, _rate(raw), code)

    def to_json(self) -> dict[str, Any]:
        body = asdict(self)
        if self.code is None:
            del body["code"]
        return body


Fault = HttpFault | StreamFault


def parse_fault(raw: object) -> Fault:
    """The switch's JSON body: a stream fault when it names `stream`, else an HTTP fault."""
    if not isinstance(raw, dict):
        raise ValueError("fault must be a JSON object")
    return StreamFault.parse(raw) if "stream" in raw else HttpFault.parse(raw)


@dataclass(frozen=True, slots=True)
class SwitchStatistics:
    requests: int  # faultable requests seen
    http_faults: int  # answered with the HTTP fault's status
    stream_faults: dict[str, int]  # kind -> streams broken
    not_streams: int  # drawn for a stream fault, but the answer was not a 2xx event stream
    changes: int  # POST/DELETE of the switch


class FaultSwitch:
    """The current fault and the seeded draw that picks the requests it hits."""

    def __init__(self, seed: int | None = None) -> None:
        self.fault: Fault | None = None
        self._rng = random.Random(seed)
        self._requests = 0
        self._http = 0
        self._streams = dict.fromkeys(STREAM_KINDS, 0)
        self._not_streams = 0
        self._changes = 0

    def set(self, fault: Fault | None) -> None:
        self.fault = fault
        self._changes += 1

    def draw(self) -> Fault | None:
        """The fault this request gets (None: forward it untouched)."""
        self._requests += 1
        fault = self.fault
        if fault is None or not self._rng.random() < fault.rate:
            return None
        if isinstance(fault, HttpFault):
            self._http += 1
        return fault

    def count_stream(self, kind: StreamKind | None) -> None:
        """A drawn stream fault was carried out (`kind`), or found no stream to break (None)."""
        if kind is None:
            self._not_streams += 1
        else:
            self._streams[kind] += 1

    def state_json(self) -> dict[str, Any] | None:
        return None if self.fault is None else self.fault.to_json()

    def statistics(self) -> SwitchStatistics:
        return SwitchStatistics(self._requests, self._http, {str(k): v for k, v in self._streams.items()},
                                self._not_streams, self._changes)
