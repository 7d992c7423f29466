"""SLO engine: the catalog (tiers, gates, rollback triggers), pure evaluation and abort conditions."""

from __future__ import annotations

from chaos.slo.abort import AbortCondition, AbortMonitor, FiredCondition
from chaos.slo.catalog import (
    CATALOG_VERSION,
    GATES,
    PROFILES,
    ROLLBACK_TRIGGERS,
    TIERS,
    CatalogError,
    Gate,
    Profile,
    RollbackTrigger,
    Tier,
)
from chaos.slo.config import EvaluationConfig, Threshold, Thresholds
from chaos.slo.evaluate import evaluate
from chaos.slo.failover import FailoverTiming
from chaos.slo.hard_failures import HardFailureInterval
from chaos.slo.report import DriverFigures, LoadTotals, Report
from chaos.slo.tier_rules import PhaseSummary
from chaos.slo.verdict import Criterion, Verdict

__all__ = [
    "CATALOG_VERSION",
    "GATES",
    "PROFILES",
    "ROLLBACK_TRIGGERS",
    "TIERS",
    "AbortCondition",
    "AbortMonitor",
    "CatalogError",
    "Criterion",
    "DriverFigures",
    "EvaluationConfig",
    "FailoverTiming",
    "FiredCondition",
    "Gate",
    "HardFailureInterval",
    "LoadTotals",
    "PhaseSummary",
    "Profile",
    "Report",
    "RollbackTrigger",
    "Threshold",
    "Thresholds",
    "Tier",
    "Verdict",
    "evaluate",
]
