"""Typed scalar values of spec files: durations (`90s`), percentages (`0.5%`), counts (`20k`)."""

from __future__ import annotations

import math
import re
from datetime import timedelta
from typing import Annotated, Any, Literal

from pydantic import PlainSerializer, PlainValidator, WithJsonSchema

_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")
_DURATION_FULL = re.compile(r"(?:\d+(?:\.\d+)?(?:ms|s|m|h|d))+")
_UNIT_S = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_PERCENT = re.compile(r"(\d+(?:\.\d+)?)\s*%")
_COUNT = re.compile(r"(\d+(?:\.\d+)?)\s*([kKmM]?)")
_COUNT_FACTOR = {"": 1, "k": 1_000, "K": 1_000, "m": 1_000_000, "M": 1_000_000}

DURATION_PATTERN = r"^((\d+(\.\d+)?)(ms|s|m|h|d))+$"
PERCENT_PATTERN = r"^\d+(\.\d+)?\s*%$"
COUNT_PATTERN = r"^\d+(\.\d+)?\s*[kKmM]?$"


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def parse_duration(value: object) -> timedelta:
    """`250ms`, `90s`, `2m`, `1h30m`, `1.5s` (or a bare number of seconds) -> timedelta."""
    if isinstance(value, timedelta):
        seconds = value.total_seconds()
    elif _is_number(value):
        seconds = float(value)  # type: ignore[arg-type]  # _is_number checked int | float
    elif isinstance(value, str):
        text = value.strip()
        if not _DURATION_FULL.fullmatch(text):
            raise ValueError(
                f"{value!r} is not a duration; write e.g. '250ms', '90s', '2m' or '1h30m'"
            )
        seconds = sum(float(n) * _UNIT_S[u] for n, u in _DURATION_PART.findall(text))
    else:
        raise ValueError(f"expected a duration like '90s', got {type(value).__name__}")
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"a duration must be finite and not negative, got {value!r}")
    if seconds > 366 * 86400:
        raise ValueError(f"duration {value!r} is longer than a year")
    return timedelta(seconds=seconds)


def format_duration(value: timedelta) -> str:
    """The shortest spec spelling of a duration: 90s -> '1m30s', 0.25s -> '250ms'."""
    ms = round(value.total_seconds() * 1000)
    if ms == 0:
        return "0s"
    parts: list[str] = []
    for unit, size in (("h", 3_600_000), ("m", 60_000), ("s", 1000), ("ms", 1)):
        n, ms = divmod(ms, size)
        if n:
            parts.append(f"{n}{unit}")
    return "".join(parts)


def parse_percent(value: object) -> float:
    """`0.5%` -> 0.005; a bare number is already a fraction in [0, 1]."""
    if _is_number(value):
        fraction = float(value)  # type: ignore[arg-type]  # _is_number checked int | float
        if not 0.0 <= fraction <= 1.0:
            raise ValueError(
                f"{value!r} is not a fraction in [0, 1]; write a percentage like '{value}%'"
            )
        return fraction
    if isinstance(value, str):
        match = _PERCENT.fullmatch(value.strip())
        if match is None:
            raise ValueError(f"{value!r} is not a percentage; write e.g. '0.5%' or '99.9%'")
        fraction = float(match.group(1)) / 100.0
        if fraction > 1.0:
            raise ValueError(f"percentage {value!r} is over 100%")
        return fraction
    raise ValueError(f"expected a percentage like '0.5%', got {type(value).__name__}")


def parse_count(value: object) -> int:
    """`20k` -> 20000, `1.5k` -> 1500, `2M` -> 2000000; plain integers as is."""
    if isinstance(value, int) and not isinstance(value, bool):
        count = value
    elif isinstance(value, str) and (match := _COUNT.fullmatch(value.strip())):
        scaled = float(match.group(1)) * _COUNT_FACTOR[match.group(2)]
        if scaled != int(scaled):
            raise ValueError(f"{value!r} is not a whole count")
        count = int(scaled)
    else:
        raise ValueError(f"{value!r} is not a count; write e.g. 200, '1k' or '20k'")
    if count < 0:
        raise ValueError(f"a count must not be negative, got {value!r}")
    return count


def parse_workers(value: object) -> int | Literal["auto"]:
    if value == "auto":
        return "auto"
    if isinstance(value, int) and not isinstance(value, bool) and value >= 1:
        return value
    raise ValueError(f"workers must be a positive integer or 'auto', got {value!r}")


def _number_or(pattern: str, description: str) -> WithJsonSchema:
    return WithJsonSchema(
        {"anyOf": [{"type": "number", "minimum": 0}, {"type": "string", "pattern": pattern}],
         "description": description}
    )


def _ser_duration(value: timedelta) -> str:
    return format_duration(value)


Duration = Annotated[
    timedelta,
    PlainValidator(parse_duration),
    PlainSerializer(_ser_duration, return_type=str),
    _number_or(DURATION_PATTERN, "a duration such as 250ms, 90s, 2m or 1h30m (a bare number is seconds)"),
]
Percent = Annotated[
    float,
    PlainValidator(parse_percent),
    _number_or(PERCENT_PATTERN, "a percentage such as 0.5% (a bare number is a fraction 0..1)"),
]
Count = Annotated[
    int,
    PlainValidator(parse_count),
    WithJsonSchema(
        {"anyOf": [{"type": "integer", "minimum": 0}, {"type": "string", "pattern": COUNT_PATTERN}],
         "description": "a count such as 200, 1k or 20k"}
    ),
]
Workers = Annotated[
    int | Literal["auto"],
    PlainValidator(parse_workers),
    WithJsonSchema({"anyOf": [{"type": "integer", "minimum": 1}, {"const": "auto"}]}),
]


def as_seconds(value: Any) -> float:
    """Seconds of a timedelta (helper for display code)."""
    return float(value.total_seconds())
