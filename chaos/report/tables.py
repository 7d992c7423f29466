"""Tables shared by the renderers: criteria, SLOs per phase, faults, failover timings (plain rows)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from chaos.recording import FaultRecord, Phase
from chaos.slo.verdict import Criterion


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


def phase_table(
    criteria: Sequence[Criterion], phases: Sequence[Phase]
) -> tuple[list[str], list[list[str]]]:
    """SLO table: one row per judged phase, one column per metric, cells `measured (verdict)`."""
    order = [p.name for p in phases]
    scopes: dict[str, dict[str, Criterion]] = {}
    metrics: list[str] = []
    for c in criteria:
        metric = criterion_metric(c)
        if metric not in metrics:
            metrics.append(metric)
        scopes.setdefault(c.scope, {})[metric] = c
    names = sorted(scopes, key=lambda s: (order.index(s) if s in order else len(order), s))
    rows = []
    for scope in names:
        row = [scope]
        for metric in metrics:
            found = scopes[scope].get(metric)
            row.append("" if found is None else f"{fmt_number(found.measured, found.unit)} {_mark(found)}")
        rows.append(row)
    return ["phase", *metrics], rows


def _mark(c: Criterion) -> str:
    return {"PASS": "ok", "FAIL": "FAIL", "INCONCLUSIVE": "?"}[c.verdict.value]


FAULT_HEADER = ["fault", "scenario", "mode", "target", "scheduled", "applied", "reverted", "revert", "error"]


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
                f.error or "",
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
