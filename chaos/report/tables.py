"""Tables shared by the renderers: criteria, SLOs per phase, faults, failover timings (plain rows)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from chaos.recording import FaultRecord, Phase
from chaos.slo.verdict import Criterion, Verdict


def fmt_number(value: float | None, unit: str = "") -> str:
    if value is None:
        return "n/a"
    if unit == "%":
        return f"{value:.2f}%"  # criteria carry percentages as percent numbers (99.5, not 0.995)
    if unit in ("ms",):
        return f"{value:,.0f} ms"
    if unit == "s":
        return f"{value:,.1f} s"
    if float(value).is_integer():
        return f"{int(value):,}{' ' + unit if unit and unit != 'count' else ''}"
    return f"{value:,.3g}{' ' + unit if unit and unit != 'count' else ''}"


_NEGATION = {"<=": ">", ">=": "<", "<": ">=", ">": "<="}


def fmt_comparison(c: Criterion) -> str:
    """`3,310 ms > 2,500 ms`: the relation that holds between measured and threshold (a FAIL
    shows the broken side); `n/a, limit <= 120.0 s` without a measurement."""
    measured = fmt_number(c.measured, c.unit)
    if c.threshold is None:
        return measured
    threshold = fmt_number(c.threshold, c.unit)
    if c.measured is None or not c.comparison:
        return f"{measured}, limit {c.comparison} {threshold}".replace("  ", " ")
    if c.verdict is Verdict.FAIL:
        return f"{measured} {_NEGATION.get(c.comparison, c.comparison)} {threshold}"
    if c.verdict is Verdict.PASS:
        return f"{measured} {c.comparison} {threshold}"
    return f"{measured}, limit {c.comparison} {threshold}"


def fmt_time(t: float | None) -> str:
    if t is None:
        return "-"
    return datetime.fromtimestamp(t, tz=UTC).strftime("%H:%M:%S")


def criterion_metric(c: Criterion) -> str:
    """The metric part of a criterion id: `tier_g.p95_first_token@baseline` -> `p95_first_token`."""
    head = c.id.split("@", 1)[0]
    return head.split(".", 1)[1] if "." in head else head


def criteria_rows(criteria: Sequence[Criterion]) -> list[list[str]]:
    return [
        [
            c.id,
            c.verdict.value,
            fmt_number(c.measured, c.unit),
            f"{c.comparison} {fmt_number(c.threshold, c.unit)}".strip(),
            c.scope,
            c.reason,
        ]
        for c in criteria
    ]


CRITERIA_HEADER = ["criterion", "verdict", "measured", "threshold", "scope", "reason"]


def is_phase_criterion(c: Criterion) -> bool:
    """A tier SLO judged per phase (`tier_g.rate_5xx@fault:x`), as opposed to run-wide checks."""
    return c.id.startswith("tier_") and "@" in c.id and "[" not in c.id


@dataclass(frozen=True, slots=True)
class CriteriaMatrix:
    """Tier SLOs with one row per metric and one column per judged phase, in time order.

    Each cell is the criterion of that metric in that phase (None: not judged there); the
    limit column holds the threshold most phases share, and a cell whose own threshold
    differs (M3 judges failover phases at Tier G) shows it."""

    phases: tuple[str, ...]
    metrics: tuple[str, ...]
    limits: Mapping[str, str]
    cells: Mapping[tuple[str, str], Criterion]

    def cell_text(self, metric: str, phase: str) -> str:
        """`FAIL 10.00%`: the verdict first, so renderers can colour a cell by its first word."""
        c = self.cells.get((metric, phase))
        if c is None:
            return ""
        text = f"{c.verdict.value} {fmt_number(c.measured, c.unit)}"
        own = limit_text(c)
        if own != self.limits.get(metric):
            tier = c.id.split(".", 1)[0].removeprefix("tier_").upper()
            text += f" (Tier {tier} {own})"
        return text


def limit_text(c: Criterion) -> str:
    return f"{c.comparison} {fmt_number(c.threshold, c.unit)}".strip()


def criteria_matrix(criteria: Sequence[Criterion], phases: Sequence[Phase]) -> CriteriaMatrix:
    """The per-phase tier criteria arranged by metric and phase; phases in time order, the
    whole-run scope (`run`) last."""
    starts = {p.name: p.start for p in phases}
    cells: dict[tuple[str, str], Criterion] = {}
    metrics: list[str] = []
    scopes: list[str] = []
    for c in criteria:
        if not is_phase_criterion(c):
            continue
        metric = criterion_metric(c)
        if metric not in metrics:
            metrics.append(metric)
        if c.scope not in scopes:
            scopes.append(c.scope)
        cells[(metric, c.scope)] = c
    order = sorted(scopes, key=lambda s: (s == "run", starts.get(s, float("inf")), s))
    limits = {}
    for metric in metrics:
        seen = Counter(limit_text(c) for (m, _), c in cells.items() if m == metric)
        limits[metric] = seen.most_common(1)[0][0]
    return CriteriaMatrix(tuple(order), tuple(metrics), limits, cells)


FAULT_HEADER = ["fault", "scenario", "mode", "target", "scheduled", "applied", "reverted", "revert", "problem"]


def fault_problem(f: FaultRecord) -> str | None:
    """Why a fault's revert is not proven (no revert recorded, an error), or None."""
    problems = []
    if f.reverted_at is None:
        applied = "applied" if f.applied_at is not None else "never applied"
        problems.append(f"no revert recorded ({applied}, reverted_at is empty)")
    if f.error:
        problems.append(f"fault error: {f.error}")
    problems += [f"{a.primitive} {a.target}: {a.error}" for a in f.actions if a.error]
    problems += [f"{a.primitive} {a.target}: applied, never reverted" for a in f.actions
                 if a.applied_at is not None and a.reverted_at is None and not a.error]
    return "; ".join(problems) or None


def fault_rows(faults: Sequence[FaultRecord]) -> list[list[str]]:
    rows = []
    for f in faults:
        methods: list[str] = sorted({a.revert_method for a in f.actions}) or ["-"]
        rows.append(
            [
                f.id,
                f.scenario,
                f.mode,
                f.target,
                f"{fmt_time(f.scheduled_at)}-{fmt_time(f.scheduled_end)}",
                fmt_time(f.applied_at),
                fmt_time(f.reverted_at),
                "/".join(methods),
                fault_problem(f) or "",
            ]
        )
    return rows


def failover_rows(failover: Mapping[str, Any]) -> list[list[str]]:
    """Rows `[name, value]` from the evaluator's failover timings (one level of nesting)."""
    rows: list[list[str]] = []
    for key, value in failover.items():
        if isinstance(value, Mapping):
            for sub, v in value.items():
                rows.append([f"{key}.{sub}", _plain(v, sub)])
        else:
            rows.append([key, _plain(value, key)])
    return rows


def _plain(value: Any, name: str) -> str:
    if isinstance(value, float):
        if name.endswith("_s"):
            return f"{value:.2f} s"
        if name.endswith("_at"):
            return fmt_time(value)
        return f"{value:.3g}"
    if value is None:
        return "n/a"
    return str(value)
