"""Typed Toxiproxy toxics: one frozen value per toxic type, with units in the field names."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

Stream = Literal["upstream", "downstream"]

# Every toxic the framework creates carries this prefix, so `chaos cleanup --env` can
# remove exactly those and nothing an operator added by hand.
TOXIC_PREFIX = "chaos_"


@dataclass(frozen=True, slots=True)
class Latency:
    """Delay every chunk by latency_ms +/- jitter_ms (shifts a stream; keeps its rate)."""

    type: ClassVar[str] = "latency"
    latency_ms: int
    jitter_ms: int = 0

    def attributes(self) -> dict[str, int]:
        return {"latency": self.latency_ms, "jitter": self.jitter_ms}


@dataclass(frozen=True, slots=True)
class Bandwidth:
    """Limit the link to rate_kbps kilobytes per second."""

    type: ClassVar[str] = "bandwidth"
    rate_kbps: int

    def attributes(self) -> dict[str, int]:
        return {"rate": self.rate_kbps}


@dataclass(frozen=True, slots=True)
class SlowClose:
    """Delay the TCP close by delay_ms."""

    type: ClassVar[str] = "slow_close"
    delay_ms: int

    def attributes(self) -> dict[str, int]:
        return {"delay": self.delay_ms}


@dataclass(frozen=True, slots=True)
class Timeout:
    """Stop all data; close after timeout_ms (0: never, a blackhole)."""

    type: ClassVar[str] = "timeout"
    timeout_ms: int = 0

    def attributes(self) -> dict[str, int]:
        return {"timeout": self.timeout_ms}


@dataclass(frozen=True, slots=True)
class ResetPeer:
    """Reset the connection (RST) after timeout_ms, when the next chunk flows."""

    type: ClassVar[str] = "reset_peer"
    timeout_ms: int = 0

    def attributes(self) -> dict[str, int]:
        return {"timeout": self.timeout_ms}


@dataclass(frozen=True, slots=True)
class Slicer:
    """Slice data into average_size_bytes (+/- variation) chunks, delay_us apart."""

    type: ClassVar[str] = "slicer"
    average_size_bytes: int
    size_variation_bytes: int = 0
    delay_us: int = 0

    def attributes(self) -> dict[str, int]:
        return {
            "average_size": self.average_size_bytes,
            "size_variation": self.size_variation_bytes,
            "delay": self.delay_us,
        }


@dataclass(frozen=True, slots=True)
class LimitData:
    """Close the connection once `bytes` bytes have passed."""

    type: ClassVar[str] = "limit_data"
    bytes: int

    def attributes(self) -> dict[str, int]:
        return {"bytes": self.bytes}


ToxicSpec = Latency | Bandwidth | SlowClose | Timeout | ResetPeer | Slicer | LimitData

_BY_TYPE: dict[str, type[ToxicSpec]] = {
    cls.type: cls for cls in (Latency, Bandwidth, SlowClose, Timeout, ResetPeer, Slicer, LimitData)
}
_FIELDS: dict[str, dict[str, str]] = {
    "latency": {"latency": "latency_ms", "jitter": "jitter_ms"},
    "bandwidth": {"rate": "rate_kbps"},
    "slow_close": {"delay": "delay_ms"},
    "timeout": {"timeout": "timeout_ms"},
    "reset_peer": {"timeout": "timeout_ms"},
    "slicer": {"average_size": "average_size_bytes", "size_variation": "size_variation_bytes",
               "delay": "delay_us"},
    "limit_data": {"bytes": "bytes"},
}


def spec_from_attributes(toxic_type: str, attributes: Mapping[str, Any]) -> ToxicSpec:
    """The typed toxic for a Toxiproxy `type` and its `attributes` mapping."""
    try:
        cls = _BY_TYPE[toxic_type]
    except KeyError:
        raise ValueError(f"unknown toxic type {toxic_type!r}") from None
    names = _FIELDS[toxic_type]
    return cls(**{names[k]: int(v) for k, v in attributes.items() if k in names})


@dataclass(frozen=True, slots=True)
class Toxic:
    """A toxic as the server reports it."""

    name: str
    type: str
    stream: Stream
    toxicity: float
    attributes: Mapping[str, int]

    @property
    def spec(self) -> ToxicSpec:
        return spec_from_attributes(self.type, self.attributes)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Toxic:
        return cls(
            name=str(data["name"]),
            type=str(data["type"]),
            stream="upstream" if data.get("stream") == "upstream" else "downstream",
            toxicity=float(data.get("toxicity", 1.0)),
            attributes={str(k): int(v) for k, v in (data.get("attributes") or {}).items()},
        )
