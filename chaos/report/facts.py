"""The run's facts every view states: who ran what, at which tier and concurrency, how scaled.

One function builds them from an `Evidence`; the CLI lines, junit.xml, summary.md and
report.html all read these values, so a scaled or shortened drill says so everywhere.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from chaos.recording import LoadWindow
from chaos.report.evidence import Evidence
from chaos.slo.catalog import CatalogError, profile, tier
from chaos.spec.units import parse_duration


@dataclass(frozen=True, slots=True)
class RunFacts:
    """What a reader needs before the verdicts: identity, scope and scaling of one run."""

    drill: str
    run_id: str
    state: str
    complete: bool
    verdict: str
    aborted: str | None
    started_at: float
    ended_at: float
    time_scale: float
    load_scale: float
    tier: str | None  # the tier judged, e.g. "G"; None for a bundle without evaluation
    tier_streams: int | None  # the tier's concurrency in the SLO catalog
    gate: str | None
    model: str | None  # "closed" | "open"
    streams_driven: int | None  # closed model: concurrent streams the driver ran (after load_scale)
    rate_driven: float | None  # open model: arrivals per second (after load_scale)
    peak_in_flight: int  # most streams in flight in one second, as the workers reported
    nominal_duration_s: float | None  # the drill's duration as written
    tool_version: str | None
    commit: str | None
    commit_dirty: bool

    @property
    def duration_s(self) -> float:
        return max(0.0, self.ended_at - self.started_at)

    @property
    def scheduled_duration_s(self) -> float | None:
        """The drill's duration after --time-scale: what the run was meant to last."""
        if self.nominal_duration_s is None:
            return None
        return self.nominal_duration_s * self.time_scale

    @property
    def scaled(self) -> bool:
        """A scaled drill: it drove fewer concurrent streams than its tier is defined at."""
        driven = self.streams_driven if self.streams_driven is not None else self.peak_in_flight
        return self.tier_streams is not None and driven < self.tier_streams

    def concurrency_text(self) -> str:
        """`100 streams`, `20.0 req/s (open model)`, or the peak when the drill is unknown."""
        if self.streams_driven is not None:
            return f"{self.streams_driven:,} streams"
        if self.rate_driven is not None:
            return f"{self.rate_driven:,.4g} req/s (open model, peak {self.peak_in_flight:,} in flight)"
        return f"{self.peak_in_flight:,} streams at peak"

    def scope_text(self) -> str:
        """One line: tier and its concurrency, the concurrency driven, time scale, soak."""
        parts = []
        if self.tier is not None:
            at = f" ({self.tier_streams:,} streams)" if self.tier_streams is not None else ""
            parts.append(f"Tier {self.tier}{at}")
        if self.gate:
            parts.append(f"gate {self.gate}")
        driven = f"driven at {self.concurrency_text()}"
        if self.scaled and self.tier_streams:
            share = (self.streams_driven or self.peak_in_flight) / self.tier_streams
            driven += f" (scaled drill, {share:.0%} of the tier)" if share >= 0.01 else \
                f" (scaled drill, {share:.1%} of the tier)"
        parts.append(driven)
        parts.append(f"time scale {self.time_scale:g}")
        soak = f"ran {self.duration_s:,.0f} s"
        if self.nominal_duration_s is not None:
            soak += f" of {self.nominal_duration_s:,.0f} s nominal"
            if self.time_scale != 1.0 and self.scheduled_duration_s is not None:
                soak += f" ({self.scheduled_duration_s:,.0f} s scaled)"
        parts.append(soak)
        return ", ".join(parts)

    def scaled_note(self) -> str | None:
        """The sentence a scaled drill carries wherever its verdict appears (None: not scaled)."""
        if not self.scaled or self.tier is None or self.tier_streams is None:
            return None
        return (f"Scaled drill: judged at {self.concurrency_text()} (Tier {self.tier} is "
                f"{self.tier_streams:,}); its verdict says nothing about the tier's full load.")


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _seconds(value: Any) -> float | None:
    try:
        return parse_duration(value).total_seconds() if value is not None else None
    except ValueError:
        return None


def _tier_streams(name: str | None) -> int | None:
    if not name:
        return None
    try:
        return tier(name).streams
    except CatalogError:
        return None


def _driven(load: Mapping[str, Any], load_scale: float) -> tuple[str | None, int | None, float | None]:
    """The load the driver was configured with, as `chaos.run.plan.load_config` scales it."""
    model = load.get("model")
    if model == "closed":
        streams = load.get("streams")
        if streams is None and load.get("profile"):
            try:
                streams = profile(str(load["profile"])).streams
            except CatalogError:
                streams = None
        if isinstance(streams, int | float):
            return "closed", max(1, round(streams * load_scale)), None
    elif model == "open" and isinstance(load.get("rate"), int | float):
        return "open", None, float(load["rate"]) * load_scale
    return (str(model) if model else None), None, None


def _peak_in_flight(windows: Iterable[LoadWindow]) -> int:
    """Most requests in flight at the end of one wall-clock second, summed over workers."""
    per_second: dict[int, int] = {}
    for w in windows:
        second = math.floor(w.start)
        per_second[second] = per_second.get(second, 0) + w.in_flight
    return max(per_second.values(), default=0)


def run_facts(evidence: Evidence) -> RunFacts:
    rec = evidence.recording
    report = _mapping(evidence.report)
    evaluation = _mapping(evidence.inputs.get("evaluation"))
    drill = _mapping(evidence.inputs.get("drill"))
    tier_name = report.get("tier") or evaluation.get("tier")
    gate = report.get("gate") if "gate" in report else evaluation.get("gate")
    model, streams, rate = _driven(_mapping(drill.get("load")), rec.load_scale)
    peak = _peak_in_flight(rec.windows)
    git = _mapping(evidence.meta.get("git"))
    tool = _mapping(evidence.meta.get("tool"))
    return RunFacts(
        drill=evidence.drill, run_id=evidence.run_id, state=evidence.state,
        complete=evidence.complete, verdict=evidence.verdict.value, aborted=rec.aborted,
        started_at=rec.started_at, ended_at=rec.ended_at, time_scale=rec.time_scale,
        load_scale=rec.load_scale, tier=str(tier_name).upper() if tier_name else None,
        tier_streams=_tier_streams(str(tier_name) if tier_name else None),
        gate=str(gate) if gate else None, model=model, streams_driven=streams, rate_driven=rate,
        peak_in_flight=peak, nominal_duration_s=_seconds(drill.get("duration")),
        tool_version=str(tool["version"]) if tool.get("version") else None,
        commit=str(git["commit"]) if git.get("commit") else None, commit_dirty=bool(git.get("dirty")),
    )
