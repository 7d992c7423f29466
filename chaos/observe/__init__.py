"""Observers: Prometheus scrapes and PromQL queries sampled every second, and the availability prober."""

from __future__ import annotations

from chaos.observe.metrics import (
    DEFAULT_QUERIES,
    MetricsObserver,
    ObserverConfig,
    ObserverStatistics,
)
from chaos.observe.prober import AvailabilityProber, ProberStatistics
from chaos.observe.selector import Selector, SelectorError, parse_selector

__all__ = [
    "DEFAULT_QUERIES",
    "AvailabilityProber",
    "MetricsObserver",
    "ObserverConfig",
    "ObserverStatistics",
    "ProberStatistics",
    "Selector",
    "SelectorError",
    "parse_selector",
]
