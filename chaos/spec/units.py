"""Typed scalar values of spec files: durations (`90s`), percentages (`0.5%`), counts (`20k`),
rates, plain numbers and worker counts, each with the range a drill can sensibly use."""

from __future__ import annotations

import math
import re
from datetime import timedelta
from typing import Annotated, Any, Literal

from pydantic import PlainSerializer, PlainValidator, WithJsonSchema

from chaos.spec.text import quote

_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")
_DURATION_FULL = re.compile(r"(?:\d+(?:\.\d+)?(?:ms|s|m|h|d))+")
_UNIT_S = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_PERCENT = re.compile(r"(\d+(?:\.\d+)?)\s*%")
_COUNT = re.compile(r"(\d+(?:\.\d+)?)\s*([kKmM]?)")
_COUNT_FACTOR = {"": 1, "k": 1_000, "K": 1_000, "m": 1_000_000, "M": 1_000_000}

DURATION_PATTERN = r"^((\d+(\.\d+)?)(ms|s|m|h|d))+$"
PERCENT_PATTERN = r"^\d+(\.\d+)?\s*%$"
COUNT_PATTERN = r"^\d+(\.\d+)?\s*[kKmM]?$"

# The sane ranges (docs/spec-limits.md): beyond them a value is a typo or an attack, and
# downstream arithmetic (timelines, histograms, request volumes) would overflow or hang.
MAX_DURATION_S = 366 * 86400
MAX_COUNT = 1_000_000_000
MAX_STREAMS = 1_000_000  # concurrent streams (and in-flight requests) of one drill
MAX_WORKERS = 1024
MAX_RATE = 1_000_000.0  # requests started per second
MAX_NUMBER = 1e15  # thresholds of metric checks


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _as_float(value: int | float) -> float:
    """`value` as a float; an integer too large for one is infinite (then refused by range)."""
    try:
        return float(value)
    except OverflowError:
        return math.inf if value > 0 else -math.inf


def parse_duration(value: object) -> timedelta:
    """`250ms`, `90s`, `2m`, `1h30m`, `1.5s` (or a bare number of seconds) -> timedelta."""
    if isinstance(value, timedelta):
        seconds = value.total_seconds()
    elif _is_number(value):
        seconds = _as_float(value)  # type: ignore[arg-type]  # _is_number checked int | float
    elif isinstance(value, str):
        text = value.strip()
        if not _DURATION_FULL.fullmatch(text):
            raise ValueError(
                f"{quote(value)} is not a duration; write e.g. '250ms', '90s', '2m' or '1h30m'"
            )
        seconds = sum(float(n) * _UNIT_S[u] for n, u in _DURATION_PART.findall(text))
    else:
        raise ValueError(f"expected a duration like '90s', got {type(value).__name__}")
    if not (math.isfinite(seconds) and 0 <= seconds <= MAX_DURATION_S):
        raise ValueError(f"a duration must be from 0s to 366d, not {quote(value)}")
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
        fraction = _as_float(value)  # type: ignore[arg-type]  # _is_number checked int | float
        if not 0.0 <= fraction <= 1.0:  # NaN fails too
            hint = f"; write a percentage like '{value}%'" if 1 < fraction <= 100 else ""
            raise ValueError(f"{quote(value)} is not a fraction in [0, 1]{hint}")
        return fraction
    if isinstance(value, str):
        match = _PERCENT.fullmatch(value.strip())
        if match is None:
            raise ValueError(f"{quote(value)} is not a percentage; write e.g. '0.5%' or '99.9%'")
        fraction = float(match.group(1)) / 100.0
        if fraction > 1.0:
            raise ValueError(f"percentage {quote(value)} is over 100%")
        return fraction
    raise ValueError(f"expected a percentage like '0.5%', got {type(value).__name__}")


def parse_count(value: object, *, minimum: int = 0, maximum: int = MAX_COUNT) -> int:
    """`20k` -> 20000, `1.5k` -> 1500, `2M` -> 2000000; plain integers as is;
    from `minimum` to `maximum` (1,000,000,000 by default)."""
    if isinstance(value, int) and not isinstance(value, bool):
        count = value
    elif isinstance(value, str) and (match := _COUNT.fullmatch(value.strip())):
        scaled = float(match.group(1)) * _COUNT_FACTOR[match.group(2)]
        if not math.isfinite(scaled) or scaled > maximum:
            raise ValueError(f"a count must be from {minimum:,} to {maximum:,}, not {quote(value)}")
        if scaled != int(scaled):
            raise ValueError(f"{quote(value)} is not a whole count")
        count = int(scaled)
    else:
        raise ValueError(f"{quote(value)} is not a count; write e.g. 200, '1k' or '20k'")
    if count < 0:
        raise ValueError(f"a count must not be negative, got {quote(value)}")
    if not minimum <= count <= maximum:
        raise ValueError(f"a count must be from {minimum:,} to {maximum:,}, not {quote(value)}")
    return count


def parse_positive_count(value: object) -> int:
    """A count of at least 1 (subjects, ...)."""
    return parse_count(value, minimum=1)


def parse_streams(value: object) -> int:
    """A number of concurrent streams: at most 1,000,000 (0 is refused by the load model)."""
    return parse_count(value, maximum=MAX_STREAMS)


def parse_workers(value: object) -> int | Literal["auto"]:
    if value == "auto":
        return "auto"
    if isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= MAX_WORKERS:
        return value
    if isinstance(value, int) and not isinstance(value, bool) and value > MAX_WORKERS:
        raise ValueError(f"workers must be from 1 to {MAX_WORKERS} or 'auto', not {quote(value)}")
    raise ValueError(f"workers must be a positive integer or 'auto', got {quote(value)}")


def _finite(value: object, what: str) -> float:
    """A plain number (int, float or numeric text); NaN and infinities are refused."""
    number: float | None = None
    if _is_number(value):
        number = _as_float(value)  # type: ignore[arg-type]  # _is_number checked int | float
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            number = None
    if number is None:
        raise ValueError(f"{what} must be a number, not {quote(value)}")
    if not math.isfinite(number):
        raise ValueError(f"{what} must be a finite number, not {quote(value)}")
    return number


def parse_rate(value: object) -> float:
    """Requests per second: more than 0, at most 1,000,000."""
    rate = _finite(value, "a rate")
    if not 0 < rate <= MAX_RATE:
        raise ValueError(f"a rate must be more than 0 and at most {MAX_RATE:,.0f} per second, "
                         f"not {quote(value)}")
    return rate


def parse_number(value: object) -> float:
    """A threshold: a finite number from -1e15 to 1e15."""
    number = _finite(value, "a threshold")
    if abs(number) > MAX_NUMBER:
        raise ValueError(f"a threshold must be from -1e15 to 1e15, not {quote(value)}")
    return number


def _number_or(pattern: str, description: str, maximum: float) -> WithJsonSchema:
    return WithJsonSchema(
        {"anyOf": [{"type": "number", "minimum": 0, "maximum": maximum},
                   {"type": "string", "pattern": pattern}],
         "description": description}
    )


def _ser_duration(value: timedelta) -> str:
    return format_duration(value)


Duration = Annotated[
    timedelta,
    PlainValidator(parse_duration),
    PlainSerializer(_ser_duration, return_type=str),
    _number_or(DURATION_PATTERN, "a duration such as 250ms, 90s, 2m or 1h30m (a bare number is "
               "seconds), at most 366d", MAX_DURATION_S),
]
Percent = Annotated[
    float,
    PlainValidator(parse_percent),
    _number_or(PERCENT_PATTERN, "a percentage such as 0.5% (a bare number is a fraction 0..1)", 1),
]
Count = Annotated[
    int,
    PlainValidator(parse_count),
    WithJsonSchema(
        {"anyOf": [{"type": "integer", "minimum": 0, "maximum": MAX_COUNT},
                   {"type": "string", "pattern": COUNT_PATTERN}],
         "description": "a count such as 200, 1k or 20k, at most 1000M"}
    ),
]
Streams = Annotated[
    int,
    PlainValidator(parse_streams),
    WithJsonSchema(
        {"anyOf": [{"type": "integer", "minimum": 0, "maximum": MAX_STREAMS},
                   {"type": "string", "pattern": COUNT_PATTERN}],
         "description": "a number of streams such as 200, 1k or 20k, at most 1M"}
    ),
]
PositiveCount = Annotated[
    int,
    PlainValidator(parse_positive_count),
    WithJsonSchema(
        {"anyOf": [{"type": "integer", "minimum": 1, "maximum": MAX_COUNT},
                   {"type": "string", "pattern": COUNT_PATTERN}],
         "description": "a count of at least 1 such as 200, 1k or 20k, at most 1000M"}
    ),
]
Workers = Annotated[
    int | Literal["auto"],
    PlainValidator(parse_workers),
    WithJsonSchema({"anyOf": [{"type": "integer", "minimum": 1, "maximum": MAX_WORKERS}, {"const": "auto"}]}),
]
Rate = Annotated[
    float,
    PlainValidator(parse_rate),
    WithJsonSchema({"type": "number", "exclusiveMinimum": 0, "maximum": MAX_RATE,
                    "description": "requests per second"}),
]
Number = Annotated[
    float,
    PlainValidator(parse_number),
    WithJsonSchema({"type": "number", "minimum": -MAX_NUMBER, "maximum": MAX_NUMBER}),
]
def as_seconds(value: Any) -> float:
    """Seconds of a timedelta (helper for display code)."""
    return float(value.total_seconds())
