"""The failed-request ledger: which requests did not complete, by id, in which phase their
outcome happened, so an SRE can find each one in the platform's own logs."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from chaos.recording import LoadWindow, Phase

SHOWN_PER_PHASE = 200  # failed requests named per phase; the rest are counted


@dataclass(frozen=True, slots=True)
class FailedRequest:
    id: str  # the request id the driver sent (header target.request_id_header)
    cls: str  # outcome class
    code: str | None
    start: float  # wall clock
    outcome_at: float  # when it failed: the instant it is booked at
    phase: str | None  # the phase containing outcome_at (None: outside every judged phase)


@dataclass(frozen=True, slots=True)
class FailedLedger:
    total: int  # requests that did not complete, all of them
    named: int  # of those, recorded by id in the windows (a window names its first few)
    shown: tuple[FailedRequest, ...] = ()
    per_phase: dict[str, int] = field(default_factory=dict)  # failed requests by phase (all)


def failed_ledger(windows: Sequence[LoadWindow], phases: Sequence[Phase]) -> FailedLedger:
    judged = sorted((p for p in phases if p.kind != "whole"), key=lambda p: p.start)

    def phase_of(t: float) -> str | None:
        for p in judged:
            if p.start <= t < p.end:
                return p.name
        return None

    rows: list[FailedRequest] = []
    per_phase: dict[str, int] = {}
    total = 0
    for w in windows:
        failed_here = sum(n for cls, n in w.counts.items() if cls != "2xx")
        total += failed_here
        if failed_here:
            # A window lies inside one phase (windows end at phase boundaries).
            name = phase_of((w.start + w.end) / 2.0) or "outside"
            per_phase[name] = per_phase.get(name, 0) + failed_here
        rows.extend(FailedRequest(rid, cls, code, start, at, phase_of(at))
                    for rid, cls, code, start, at in w.failed)
    rows.sort(key=lambda r: r.outcome_at)
    shown: list[FailedRequest] = []
    taken: dict[str | None, int] = {}
    for r in rows:
        if taken.get(r.phase, 0) < SHOWN_PER_PHASE:
            taken[r.phase] = taken.get(r.phase, 0) + 1
            shown.append(r)
    return FailedLedger(total=total, named=len(rows), shown=tuple(shown), per_phase=per_phase)
