"""The SLO catalog as versioned data: tiers L/G/X, gates M1/M2/M3, profiles and rollback triggers.

Every number is copied from the Phase 5.0 program (seeds/002_15a5bdd153454bf9.txt); a
change to any of them bumps `CATALOG_VERSION`, which is written into every report.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from chaos.errors import ChaosError, ExitCode

CATALOG_VERSION = "phase5.0-2026-02-19.1"
CATALOG_SOURCE = "Phase 5.0 Program Setup (2026-02-19), sections 1-4"

# Threshold names a drill may override, with their unit and comparison.
THRESHOLD_NAMES: tuple[str, ...] = (
    "availability", "rate_2xx", "rate_5xx", "rate_429", "p95_first_token", "p95_completion",
)


class CatalogError(ChaosError):
    """A tier, gate or profile name is not in the catalog."""

    exit_code = ExitCode.USAGE


@dataclass(frozen=True, slots=True)
class Tier:
    """One target tier's chat SLOs; fractions for rates, milliseconds for latencies."""

    name: str  # "L", "G", "X"
    title: str
    streams: int
    availability_min: float
    rate_2xx_min: float
    rate_5xx_max: float
    rate_429_max: float
    p95_first_token_ms_max: float
    p95_completion_ms_max: float

    def threshold(self, name: str) -> float:
        """The catalog value of a threshold by its override name (see THRESHOLD_NAMES)."""
        return {
            "availability": self.availability_min,
            "rate_2xx": self.rate_2xx_min,
            "rate_5xx": self.rate_5xx_max,
            "rate_429": self.rate_429_max,
            "p95_first_token": self.p95_first_token_ms_max,
            "p95_completion": self.p95_completion_ms_max,
        }[name]


@dataclass(frozen=True, slots=True)
class Profile:
    """A load profile of the program: closed model with a fixed number of concurrent streams."""

    name: str
    streams: int
    model: str = "closed"


@dataclass(frozen=True, slots=True)
class Gate:
    """A capacity milestone: pass/fail gate with its profile, soak and extra requirements."""

    name: str  # "M1", "M2", "M3"
    tier: str
    profile: str
    min_soak_s: float
    circuit_open_max_s: float  # no sustained provider circuit open state longer than this
    queue_age_max_s: float  # no queue backlog (oldest-job) age over this
    forbid_baseline_failover: bool  # M2: no regional failover action during the baseline
    failover_drill_tier: str | None  # M3: the controlled regional failover must pass this tier
    requirements: tuple[str, ...]  # the program's wording, for `chaos slo show`


@dataclass(frozen=True, slots=True)
class RollbackTrigger:
    """A promotion-blocking condition, evaluated on 1-minute windows from run start."""

    id: str
    description: str
    consecutive_minutes: int | None = None  # rate triggers: this many consecutive bad minutes
    over_s: float | None = None  # duration triggers: strictly longer than this


TIERS: Mapping[str, Tier] = MappingProxyType({
    "L": Tier("L", "Launch", 1_000, 0.995, 0.95, 0.010, 0.040, 3_000.0, 20_000.0),
    "G": Tier("G", "Growth", 5_000, 0.999, 0.95, 0.005, 0.040, 2_500.0, 18_000.0),
    "X": Tier("X", "Large", 20_000, 0.9995, 0.95, 0.003, 0.050, 2_000.0, 15_000.0),
})

PROFILES: Mapping[str, Profile] = MappingProxyType({
    "m1_1k": Profile("m1_1k", 1_000),
    "m2_5k": Profile("m2_5k", 5_000),
    "m3_20k": Profile("m3_20k", 20_000),
})

GATES: Mapping[str, Gate] = MappingProxyType({
    "M1": Gate("M1", "L", "m1_1k", 30 * 60.0, 120.0, 60.0, False, None, (
        "all Tier L SLOs pass",
        "no sustained provider circuit open state longer than 2m",
        "no queue backlog age over 60s",
    )),
    "M2": Gate("M2", "G", "m2_5k", 60 * 60.0, 120.0, 45.0, True, None, (
        "all Tier G SLOs pass",
        "no regional failover action required during baseline run",
        "no queue backlog age over 45s",
    )),
    "M3": Gate("M3", "X", "m3_20k", 120 * 60.0, 120.0, 30.0, False, "G", (
        "all Tier X SLOs pass",
        "controlled regional failover drill still passes Tier G SLOs",
        "no queue backlog age over 30s",
    )),
})

ROLLBACK_TRIGGERS: tuple[RollbackTrigger, ...] = (
    RollbackTrigger("rate_5xx_5min", "5xx exceeds threshold for 5 consecutive minutes",
                    consecutive_minutes=5),
    RollbackTrigger("rate_2xx_10min", "2xx success rate remains below threshold for 10 consecutive minutes",
                    consecutive_minutes=10),
    RollbackTrigger("circuit_open_2min", "provider circuit for primary route remains open for > 2 minutes",
                    over_s=120.0),
    RollbackTrigger("queue_age_10min", "queue oldest-job age exceeds milestone limit for > 10 minutes",
                    over_s=600.0),
    RollbackTrigger("hard_failures", "auth or admission path has unresolved hard failures "
                    "(redis_unavailable, token validation failures, or gateway health failures)"),
)

# Short error codes of the hard failures of the rollback triggers (the testbed's names).
HARD_FAILURE_CODES: tuple[str, ...] = ("redis_unavailable", "invalid_token", "gateway_unhealthy")

# Availability is time-based: one prober second per second (DESIGN section 4).
PROBE_INTERVAL_S = 1.0
ROLLBACK_MINUTE_S = 60.0


def tier(name: str) -> Tier:
    try:
        return TIERS[name.upper()]
    except KeyError:
        raise CatalogError(f"unknown tier {name!r}: the catalog has {', '.join(TIERS)}") from None


def gate(name: str) -> Gate:
    try:
        return GATES[name.upper()]
    except KeyError:
        raise CatalogError(f"unknown gate {name!r}: the catalog has {', '.join(GATES)}") from None


def rollback_trigger(trigger_id: str) -> RollbackTrigger:
    for t in ROLLBACK_TRIGGERS:
        if t.id == trigger_id:
            return t
    raise CatalogError(f"unknown rollback trigger {trigger_id!r}: the catalog has "
                       f"{', '.join(t.id for t in ROLLBACK_TRIGGERS)}")


def rollback_over_s(trigger_id: str) -> float:
    """The duration a duration trigger fires beyond (e.g. 120 s for `circuit_open_2min`)."""
    over_s = rollback_trigger(trigger_id).over_s
    if over_s is None:
        raise CatalogError(f"rollback trigger {trigger_id!r} is not a duration trigger")
    return over_s


def rollback_minutes(trigger_id: str) -> int:
    """The streak of bad minutes a rate trigger fires at (e.g. 5 for `rate_5xx_5min`)."""
    need = rollback_trigger(trigger_id).consecutive_minutes
    if need is None:
        raise CatalogError(f"rollback trigger {trigger_id!r} is not a rate trigger")
    return need


def profile(name: str) -> Profile:
    try:
        return PROFILES[name]
    except KeyError:
        raise CatalogError(f"unknown profile {name!r}: the catalog has {', '.join(PROFILES)}") from None
