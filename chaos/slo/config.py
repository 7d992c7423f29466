"""What the evaluator is asked to judge: `EvaluationConfig` and the thresholds it resolves to.

No dependency on `chaos.spec`: the run maps a Drill onto this frozen value.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from chaos.slo.catalog import (
    HARD_FAILURE_CODES,
    THRESHOLD_NAMES,
    CatalogError,
    Gate,
    Tier,
    gate,
    rollback_over_s,
    tier,
)

DEFAULT_CIRCUIT_OPEN_MAX_S = 120.0


@dataclass(frozen=True, slots=True)
class Threshold:
    """One resolved threshold: its value in the natural unit and whether a drill overrode it."""

    name: str
    value: float
    override: bool = False


@dataclass(frozen=True, slots=True)
class Thresholds:
    """A tier's six thresholds after overrides (fractions for rates, ms for latencies)."""

    tier: str
    availability: Threshold
    rate_2xx: Threshold
    rate_5xx: Threshold
    rate_429: Threshold
    p95_first_token: Threshold
    p95_completion: Threshold


@dataclass(frozen=True, slots=True)
class EvaluationConfig:
    """The judging parameters of one run.

    `overrides` maps a threshold name (THRESHOLD_NAMES) to a value in its natural unit and
    applies to the drill's tier only (a gate's failover-drill tier is never overridden).
    """

    tier: str
    gate: str | None = None
    overrides: Mapping[str, float] = field(default_factory=dict)
    circuit_open_max_s: float | None = None  # default: the gate's, else 120 s
    queue_age_max_s: float | None = None  # default: the gate's, else not judged
    primary_route: str = "primary"
    min_requests_for_p95: int = 100
    max_probe_gap_fraction: float = 0.1  # probe seconds / metric samples missing in a scope
    max_window_gap_fraction: float = 0.1  # worker-seconds of missing load windows in a scope
    max_saturated_fraction: float = 0.0  # share of a scope's windows flagged saturated
    hard_failure_codes: tuple[str, ...] = HARD_FAILURE_CODES
    hard_failure_quiet_s: float = 60.0  # a hard failure is resolved after this long without it
    region_failover_fault_ids: tuple[str, ...] | None = None  # None: faults with scenario region_failover
    sample_interval_s: float | None = None  # None: the recording's
    judge_whole_run: bool = True
    back_within_slo_window_s: float = 10.0  # rolling window for "back within SLO" after a failover
    rollback_minute_s: float = 60.0  # the rollback triggers' "minute" (compressed runs: shorter)
    # The rollback trigger "primary circuit open > 2 minutes" (compressed runs: shorter).
    rollback_circuit_s: float = rollback_over_s("circuit_open_2min")
    # The rollback trigger "queue oldest-job age over the gate limit for > 10 minutes".
    rollback_queue_s: float = rollback_over_s("queue_age_10min")
    time_scale: float = 1.0  # every duration above is drill time, already multiplied by this
    profile_tolerance: float = 0.05  # a gate run needs median concurrency >= streams * (1 - this)

    def __post_init__(self) -> None:
        tier(self.tier)
        if self.gate is not None:
            g = gate(self.gate)
            if g.tier != self.tier.upper():
                raise CatalogError(
                    f"gate {g.name} judges Tier {g.tier}, but the drill's tier is {self.tier}"
                )
        unknown = sorted(set(self.overrides) - set(THRESHOLD_NAMES))
        if unknown:
            raise CatalogError(
                f"unknown threshold override(s) {', '.join(unknown)}: "
                f"allowed are {', '.join(THRESHOLD_NAMES)}"
            )

    @property
    def tier_entry(self) -> Tier:
        return tier(self.tier)

    @property
    def gate_entry(self) -> Gate | None:
        return gate(self.gate) if self.gate is not None else None

    @property
    def circuit_limit_s(self) -> float:
        if self.circuit_open_max_s is not None:
            return self.circuit_open_max_s
        g = self.gate_entry
        return g.circuit_open_max_s if g is not None else DEFAULT_CIRCUIT_OPEN_MAX_S

    @property
    def queue_limit_s(self) -> float | None:
        if self.queue_age_max_s is not None:
            return self.queue_age_max_s
        g = self.gate_entry
        return g.queue_age_max_s if g is not None else None

    def thresholds(self, tier_name: str | None = None) -> Thresholds:
        """Thresholds of `tier_name` (default: the drill's tier); overrides apply to the drill's tier only."""
        name = (tier_name or self.tier).upper()
        entry = tier(name)
        overrides = self.overrides if name == self.tier.upper() else MappingProxyType({})

        def one(key: str) -> Threshold:
            if key in overrides:
                return Threshold(key, float(overrides[key]), override=True)
            return Threshold(key, entry.threshold(key))

        return Thresholds(
            tier=name,
            availability=one("availability"),
            rate_2xx=one("rate_2xx"),
            rate_5xx=one("rate_5xx"),
            rate_429=one("rate_429"),
            p95_first_token=one("p95_first_token"),
            p95_completion=one("p95_completion"),
        )
