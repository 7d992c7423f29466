"""Region failover timings as views show them, each with its written definition.

The definitions restate what chaos/slo/failover.py measures; docs/evidence.md carries the
same text. A timing the evaluator adds later without a definition here is still shown,
named by its field.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from chaos.report.evidence import Evidence


@dataclass(frozen=True, slots=True)
class TimingDefinition:
    field: str  # FailoverTiming field, seconds
    name: str  # how views name it
    resolution_field: str | None
    definition: str


DEFINITIONS: tuple[TimingDefinition, ...] = (
    TimingDefinition(
        "detection_s", "detected", "detection_resolution_s",
        "From the fault's effective instant (applied_at) to the earlier of: the first metrics "
        "sample in which the router's set of active regions differs from the last set seen "
        "before the fault, and the first increase of the failovers counter. Resolution: the "
        "metrics sample interval.",
    ),
    TimingDefinition(
        "failover_s", "first response from another region", "failover_resolution_s",
        "From applied_at to the earlier of: the end of the first load window (midpoint at or "
        "after applied_at) holding a response whose region header names another region, of "
        "any outcome; and the first successful prober canary served by another region (its "
        "instant plus its first-token time). The window end bounds the instant, so this is an "
        "upper bound at one-second resolution.",
    ),
    TimingDefinition(
        "back_within_slo_s", "back within SLO", None,
        "From the revert (reverted_at) to the first second after which every sliding window of "
        "back_within_slo_window_s seconds, up to the end of the run, keeps the complete-stream, "
        "server-failure and 429 rates and the probe availability within the phase tier's "
        "thresholds. None when the last second was still out of SLO or there was no data "
        "after the revert.",
    ),
)


@dataclass(frozen=True, slots=True)
class FailoverView:
    fault_id: str
    region: str | None
    served_by: str | None
    values: tuple[tuple[str, str], ...]  # (name, formatted value) in DEFINITIONS order, then extras


def _seconds(value: Any, resolution: Any) -> str:
    if not isinstance(value, int | float):
        return "not observed in this run" if value is None else str(value)
    text = f"{value:,.2f} s"
    if isinstance(resolution, int | float) and resolution > 0:
        text += f" (resolution {resolution:g} s)"
    return text


def _records(evidence: Evidence) -> list[Mapping[str, Any]]:
    """The evaluator's full timings (report.failovers), else the evidence's short map."""
    full = evidence.report.get("failovers") if isinstance(evidence.report, Mapping) else None
    if isinstance(full, Sequence) and full:
        return [f for f in full if isinstance(f, Mapping)]
    return [{"fault_id": k, **v} for k, v in evidence.failover.items() if isinstance(v, Mapping)]


def failover_views(evidence: Evidence) -> list[FailoverView]:
    known = {d.field for d in DEFINITIONS} | {d.resolution_field for d in DEFINITIONS}
    known |= {"fault_id", "region", "served_by", "applied_at", "reverted_at", "back_within_slo_window_s"}
    out = []
    for rec in _records(evidence):
        values = []
        for d in DEFINITIONS:
            if d.field in rec:
                resolution = rec.get(d.resolution_field) if d.resolution_field else None
                text = _seconds(rec[d.field], resolution)
                if d.field == "back_within_slo_s" and isinstance(rec.get("back_within_slo_window_s"), int | float):
                    text += f" ({rec['back_within_slo_window_s']:g} s windows)"
                values.append((d.name, text))
        values += [(k, _seconds(v, None)) for k, v in rec.items() if k not in known]
        out.append(FailoverView(str(rec.get("fault_id", "?")), rec.get("region"), rec.get("served_by"),
                                tuple(values)))
    return out
