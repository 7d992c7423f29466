"""What changed between two runs: overall verdict, each criterion, load totals and failover timings."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from chaos.report.evidence import Evidence
from chaos.report.series import load_totals
from chaos.report.tables import fmt_number
from chaos.slo.verdict import Criterion


@dataclass(frozen=True, slots=True)
class CriterionChange:
    id: str
    before: Criterion | None  # None: the criterion is new in the second run
    after: Criterion | None  # None: the criterion is gone in the second run

    @property
    def verdict_changed(self) -> bool:
        return (self.before.verdict if self.before else None) != (self.after.verdict if self.after else None)

    @property
    def delta(self) -> float | None:
        if self.before is None or self.after is None:
            return None
        if self.before.measured is None or self.after.measured is None:
            return None
        return self.after.measured - self.before.measured


@dataclass(frozen=True, slots=True)
class Comparison:
    before: Evidence
    after: Evidence
    criteria: tuple[CriterionChange, ...]
    load: Mapping[str, tuple[int, int]]  # name -> (before, after)
    failover: Mapping[str, tuple[Any, Any]]

    @property
    def verdict_changed(self) -> bool:
        return self.before.verdict != self.after.verdict

    def rows(self, *, only_changed: bool = False) -> list[list[str]]:
        out = []
        for ch in self.criteria:
            if only_changed and not ch.verdict_changed:
                continue
            known = ch.after or ch.before
            unit = known.unit if known is not None else ""
            out.append(
                [
                    ch.id,
                    ch.before.verdict.value if ch.before else "-",
                    ch.after.verdict.value if ch.after else "-",
                    fmt_number(ch.before.measured, unit) if ch.before else "-",
                    fmt_number(ch.after.measured, unit) if ch.after else "-",
                    "" if ch.delta is None else f"{ch.delta:+.4g}",
                    "changed" if ch.verdict_changed else "",
                ]
            )
        return out


COMPARE_HEADER = ["criterion", "before", "after", "measured before", "measured after", "delta", ""]


def compare_evidence(before: Evidence, after: Evidence) -> Comparison:
    a = {c.id: c for c in before.criteria}
    b = {c.id: c for c in after.criteria}
    ids = list(a) + [i for i in b if i not in a]
    ta, tb = load_totals(before.recording), load_totals(after.recording)
    load: dict[str, tuple[int, int]] = {"requests": (ta.requests, tb.requests)}
    for cls in sorted(set(ta.counts) | set(tb.counts)):
        load[cls] = (ta.counts.get(cls, 0), tb.counts.get(cls, 0))
    for region in sorted(set(ta.regions) | set(tb.regions)):
        load[f"region {region}"] = (ta.regions.get(region, 0), tb.regions.get(region, 0))
    failover = {
        k: (before.failover.get(k), after.failover.get(k))
        for k in list(before.failover) + [k for k in after.failover if k not in before.failover]
    }
    return Comparison(
        before=before,
        after=after,
        criteria=tuple(CriterionChange(i, a.get(i), b.get(i)) for i in ids),
        load=load,
        failover=failover,
    )
