"""Verdict types: what the evaluator decides, per criterion and overall (DESIGN section 6)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any


class Verdict(str, Enum):  # noqa: UP042 - StrEnum changes format(); JSON relies on .value
    PASS = "PASS"
    FAIL = "FAIL"
    INCONCLUSIVE = "INCONCLUSIVE"
    NOT_APPLICABLE = "n/a"  # the run cannot show it (too short for a rollback streak): no verdict

    @staticmethod
    def combine(verdicts: Iterable[Verdict]) -> Verdict:
        """FAIL if any fails, else INCONCLUSIVE if any is, else PASS (PASS for none);
        n/a criteria do not count."""
        seen = set(verdicts)
        if Verdict.FAIL in seen:
            return Verdict.FAIL
        if Verdict.INCONCLUSIVE in seen:
            return Verdict.INCONCLUSIVE
        return Verdict.PASS


@dataclass(frozen=True, slots=True)
class Criterion:
    """One judged criterion with the evidence that decided it."""

    id: str  # stable, e.g. "tier_g.p95_first_token@fault:us-east-down"
    verdict: Verdict
    measured: float | None  # None when there was no data
    threshold: float | None
    unit: str  # "%", "ms", "s", "count"
    scope: str  # phase name, e.g. "baseline", "fault:us-east-down", "recovery", "run"
    reason: str  # one sentence
    window_start: float | None = None  # the window range that decided it (wall clock)
    window_end: float | None = None
    comparison: str = ""  # ">=", "<=", "<"
    override: bool = False  # the threshold came from an explicit drill override
    details: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "verdict": self.verdict.value,
            "measured": self.measured,
            "threshold": self.threshold,
            "unit": self.unit,
            "scope": self.scope,
            "reason": self.reason,
            "window_start": self.window_start,
            "window_end": self.window_end,
            "comparison": self.comparison,
            "override": self.override,
            "details": dict(self.details),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Criterion:
        return cls(
            id=data["id"],
            verdict=Verdict(data["verdict"]),
            measured=data.get("measured"),
            threshold=data.get("threshold"),
            unit=data.get("unit", ""),
            scope=data.get("scope", ""),
            reason=data.get("reason", ""),
            window_start=data.get("window_start"),
            window_end=data.get("window_end"),
            comparison=data.get("comparison", ""),
            override=data.get("override", False),
            details=data.get("details", {}),
        )
