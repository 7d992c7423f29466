"""Load shortfall: how much of a scope's planned load the workers actually drove. A worker
lost mid-run (or one that stopped early) leaves its share undriven; a scope driven more
than SHORTFALL_LIMIT short of plan cannot PASS on the load it was meant to carry."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from chaos.recording import LoadWindow, WorkerRecord
from chaos.slo.scope import Scope, window_instant
from chaos.slo.tier_rules import PhaseSummary
from chaos.slo.verdict import Criterion, Verdict

SHORTFALL_LIMIT = 0.05


@dataclass(frozen=True, slots=True)
class Shortfall:
    """The part of a scope's planned worker-load that no received window covers."""

    scope: str
    fraction: float  # 0.0: every worker drove its share for the whole scope
    lost: tuple[WorkerRecord, ...]  # workers lost before the scope ended

    @property
    def excessive(self) -> bool:
        return self.fraction > SHORTFALL_LIMIT

    def reason(self) -> str:
        lost = "; ".join(
            f"worker {w.worker_id} on {w.node or 'its node'} was lost"
            + (f" ({w.lost_reason})" if w.lost_reason else "")
            + (f" after window {w.last_seq}" if w.last_seq is not None else " before its first window")
            for w in self.lost)
        return (f"The driven load fell {self.fraction:.1%} short of plan in this scope (more than "
                f"the {SHORTFALL_LIMIT:.0%} allowed)" + (f": {lost}." if lost else "."))


def load_shortfall(scope: Scope, workers: Sequence[WorkerRecord],
                   windows: Sequence[LoadWindow]) -> Shortfall | None:
    """Planned load: every worker's share (its streams, or its rate) over the whole scope;
    driven: the same share over the windows received from it. None for recordings that do
    not name their workers (made before workers were recorded)."""
    if not workers or scope.duration_s <= 0:
        return None
    weights = {w.worker_id: float(w.streams) or w.rate_per_s for w in workers}
    if not any(weights.values()):
        weights = dict.fromkeys(weights, 1.0)
    planned = sum(weights.values()) * scope.duration_s
    driven = 0.0
    for window in windows:
        weight = weights.get(window.worker_id)
        if weight and scope.contains(window_instant(window.start, window.end)):
            driven += weight * (window.end - window.start)
    fraction = max(0.0, 1.0 - driven / planned)
    lost = tuple(w for w in workers if w.lost_at is not None and w.lost_at < scope.end)
    return Shortfall(scope.name, round(fraction, 6), lost)


def apply_shortfall(criteria: list[Criterion], summary: PhaseSummary,
                    shortfall: Shortfall | None) -> tuple[list[Criterion], PhaseSummary]:
    """A scope driven too far short of plan: each of its criteria is INCONCLUSIVE, its
    reason led by the shortfall (which workers were lost, when)."""
    if shortfall is None or not shortfall.excessive:
        return criteria, summary
    why = shortfall.reason()
    judged = [
        replace(c, verdict=Verdict.INCONCLUSIVE, reason=f"{why} Measured: {c.reason}",
                details={**c.details, "load_shortfall": shortfall.fraction})
        if c.verdict is not Verdict.NOT_APPLICABLE else c
        for c in criteria
    ]
    return judged, replace(summary, verdict=Verdict.combine(c.verdict for c in judged))
