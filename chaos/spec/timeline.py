"""The drill's timeline (pure): phases as offsets from the load start, and fault windows."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from chaos.spec.drill import Drill
from chaos.spec.faults import Fault, Tier

PhaseKind = Literal["ramp_up", "baseline", "fault", "recovery", "ramp_down"]


@dataclass(frozen=True, slots=True)
class TimelinePhase:
    """One phase, [start_s, end_s) from the load start. Ramps have tier None (not judged)."""

    name: str  # "ramp_up", "baseline", "fault:<id>", "between:<a>..<b>", "recovery", "ramp_down"
    kind: PhaseKind
    start_s: float
    end_s: float
    tier: Tier | None
    fault_id: str | None = None

    @property
    def length_s(self) -> float:
        return self.end_s - self.start_s


@dataclass(frozen=True, slots=True)
class FaultWindow:
    fault: Fault
    start_s: float
    end_s: float
    tier: Tier


@dataclass(frozen=True, slots=True)
class RequestVolume:
    """What load the plan expects; closed-model volume depends on the system's latency."""

    model: Literal["closed", "open"]
    concurrent_streams: int | None
    requests: int | None  # open model: rate * load time; closed: unknown up front
    description: str


@dataclass(frozen=True, slots=True)
class Timeline:
    duration_s: float
    time_scale: float
    phases: tuple[TimelinePhase, ...]
    faults: tuple[FaultWindow, ...]
    volume: RequestVolume

    def phase(self, name: str) -> TimelinePhase | None:
        return next((p for p in self.phases if p.name == name), None)

    @property
    def judged_s(self) -> float:
        """Seconds between the ramps (the time SLOs are judged on)."""
        return sum(p.length_s for p in self.phases if p.tier is not None and p.kind != "fault") + \
            _union_length([(w.start_s, w.end_s) for w in self.faults])


def _union_length(intervals: list[tuple[float, float]]) -> float:
    total, end = 0.0, float("-inf")
    for start, stop in sorted(intervals):
        if stop <= end:
            continue
        total += stop - max(start, end)
        end = stop
    return total


def build_timeline(drill: Drill, time_scale: float = 1.0) -> Timeline:
    """Phases of the drill, every offset multiplied by `time_scale` (0 < time_scale)."""
    if not time_scale > 0:
        raise ValueError(f"time_scale must be positive, got {time_scale}")

    def s(td: object) -> float:
        return float(td.total_seconds()) * time_scale  # type: ignore[attr-defined]  # timedelta

    duration = s(drill.duration)
    ramp_up = min(s(drill.load.ramp_up), duration)
    load_end = max(duration - s(drill.load.ramp_down), ramp_up)
    windows = tuple(
        FaultWindow(f, s(f.at), s(f.at) + s(f.for_), f.tier or drill.tier)
        for f in sorted(drill.faults, key=lambda f: (f.at, f.id))
    )
    phases: list[TimelinePhase] = []
    if ramp_up > 0:
        phases.append(TimelinePhase("ramp_up", "ramp_up", 0.0, ramp_up, None))
    baseline_end = windows[0].start_s if windows else load_end
    phases.append(TimelinePhase("baseline", "baseline", ramp_up, max(baseline_end, ramp_up), drill.tier))
    # Group faults whose windows overlap; gaps between groups are recovery phases.
    cluster_end = float("-inf")
    last_id = ""
    for w in windows:
        if windows and cluster_end != float("-inf") and w.start_s > cluster_end:
            phases.append(TimelinePhase(
                f"between:{last_id}..{w.fault.id}", "recovery", cluster_end, w.start_s, drill.tier))
        phases.append(TimelinePhase(f"fault:{w.fault.id}", "fault", w.start_s, w.end_s, w.tier, w.fault.id))
        if w.end_s >= cluster_end:
            cluster_end, last_id = w.end_s, w.fault.id
    if windows:
        phases.append(TimelinePhase("recovery", "recovery", cluster_end, max(load_end, cluster_end), drill.tier))
    if load_end < duration:
        phases.append(TimelinePhase("ramp_down", "ramp_down", load_end, duration, None))
    return Timeline(duration, time_scale, tuple(phases), windows, _volume(drill, duration, time_scale))


def _volume(drill: Drill, duration_s: float, time_scale: float) -> RequestVolume:
    load = drill.load
    if load.model == "open":
        rate = load.rate or 0.0
        # Ramps are linear, so they carry half their length's worth of requests.
        ramps = (load.ramp_up + load.ramp_down).total_seconds() * time_scale
        requests = round(rate * (duration_s - ramps / 2))
        return RequestVolume("open", None, requests,
                             f"~{requests:,} requests at {rate:g}/s")
    streams = load.concurrent_streams or 0
    think = load.think_time.total_seconds()
    per_stream = f" with {think:g}s think time" if think else " back to back"
    return RequestVolume(
        "closed", streams, None,
        f"~{streams:,} concurrent streams{per_stream}; requests = streams x run time / "
        "(request duration + think time), known after the run",
    )
