"""The evaluator's output: `Report` with criteria, load totals, phase table, driver figures,
failover timings and hard-failure intervals; `to_json()` / `from_json()` round-trip exactly."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from chaos.slo.confidence import LatencyShift
from chaos.slo.failover import FailoverTiming
from chaos.slo.hard_failures import HardFailureInterval
from chaos.slo.ledger import FailedLedger, FailedRequest
from chaos.slo.streams import Percentiles, StreamFigures
from chaos.slo.tier_rules import PhaseSummary
from chaos.slo.verdict import Criterion, Verdict


@dataclass(frozen=True, slots=True)
class LoadTotals:
    """Requests over the whole run. Invariant when reconciled:
    started == ended + cancelled + in_flight_at_end."""

    started: int
    ended: int
    counts: Mapping[str, int]
    error_codes: Mapping[str, int]
    transport: Mapping[str, int]
    cancelled: int
    late: int
    dropped: int
    in_flight_at_end: int
    windows: int
    missing_windows: int
    class_codes: Mapping[str, int] = field(default_factory=dict)  # "<class>:<code>" -> count

    @property
    def unaccounted(self) -> int:
        return self.started - self.ended - self.cancelled - self.in_flight_at_end

    @property
    def reconciled(self) -> bool:
        return self.unaccounted == 0


@dataclass(frozen=True, slots=True)
class DriverFigures:
    """How hard the load driver itself worked (saturation makes latencies the driver's)."""

    windows: int
    saturated_windows: int
    missing_windows: int
    max_loop_lag_p99_ms: float
    max_cpu_percent: float


@dataclass(frozen=True, slots=True)
class Report:
    verdict: Verdict
    criteria: tuple[Criterion, ...]
    tier: str
    gate: str | None
    gate_verdict: Verdict | None
    catalog_version: str
    load: LoadTotals
    phases: tuple[PhaseSummary, ...]
    driver: DriverFigures
    failovers: tuple[FailoverTiming, ...] = ()
    hard_failures: tuple[HardFailureInterval, ...] = ()
    streams: StreamFigures | None = None
    failed_requests: FailedLedger | None = None
    booking: Mapping[str, Any] = field(default_factory=dict)  # the counting rule and its boundaries
    latency_shift: tuple[LatencyShift, ...] = ()  # each fault phase against the baseline (context)
    durations: Mapping[str, Any] = field(default_factory=dict)  # name -> nominal_s, scaled_s
    complete: bool = True
    aborted: str | None = None
    notes: tuple[str, ...] = field(default=())

    def criterion(self, criterion_id: str) -> Criterion:
        for c in self.criteria:
            if c.id == criterion_id:
                return c
        raise KeyError(criterion_id)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.name == "criteria":
                out[f.name] = [c.to_json() for c in value]
            else:
                out[f.name] = _plain(value)
        out["load"]["reconciled"] = self.load.reconciled
        out["load"]["unaccounted"] = self.load.unaccounted
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Report:
        load = {k: v for k, v in data["load"].items() if k not in ("reconciled", "unaccounted")}
        return cls(
            verdict=Verdict(data["verdict"]),
            criteria=tuple(Criterion.from_json(c) for c in data["criteria"]),
            tier=data["tier"],
            gate=data["gate"],
            gate_verdict=None if data["gate_verdict"] is None else Verdict(data["gate_verdict"]),
            catalog_version=data["catalog_version"],
            load=LoadTotals(**load),
            phases=tuple(
                PhaseSummary(**{**p, "verdict": Verdict(p["verdict"])}) for p in data["phases"]
            ),
            driver=DriverFigures(**data["driver"]),
            failovers=tuple(FailoverTiming(**f) for f in data["failovers"]),
            hard_failures=tuple(HardFailureInterval(**h) for h in data["hard_failures"]),
            streams=_streams_from_json(data.get("streams")),
            failed_requests=_ledger_from_json(data.get("failed_requests")),
            booking=dict(data.get("booking", {})),
            latency_shift=tuple(LatencyShift(**s) for s in data.get("latency_shift", ())),
            durations=dict(data.get("durations", {})),
            complete=data["complete"],
            aborted=data["aborted"],
            notes=tuple(data["notes"]),
        )


def _ledger_from_json(data: Mapping[str, Any] | None) -> FailedLedger | None:
    if data is None:
        return None
    return FailedLedger(total=data["total"], named=data["named"],
                        shown=tuple(FailedRequest(**r) for r in data["shown"]),
                        per_phase=dict(data["per_phase"]))


def _streams_from_json(data: Mapping[str, Any] | None) -> StreamFigures | None:
    if data is None:
        return None
    figures: dict[str, Any] = {k: Percentiles(**v) if isinstance(v, Mapping) and "n" in v else v
                               for k, v in data.items()}
    return StreamFigures(**figures)


def _plain(value: Any) -> Any:
    if isinstance(value, Enum):
        return value.value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    return value
