"""A drill run as a test outcome: the criteria table (the failure report), JUnit properties,
and the rule FAIL fails, INCONCLUSIVE fails unless allowed (then skips), PASS passes."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from chaos.redact import redact_text
from chaos.run.options import RunResult
from chaos.slo.verdict import Criterion, Verdict

_ORDER = {Verdict.FAIL: 0, Verdict.INCONCLUSIVE: 1, Verdict.PASS: 2, Verdict.NOT_APPLICABLE: 3}
_HEADER = ("criterion", "verdict", "measured", "threshold", "reason")


def criteria_of(result: RunResult) -> tuple[Criterion, ...]:
    report = result.report
    return tuple(report.criteria) if report is not None else ()


def criteria_table(criteria: Sequence[Criterion]) -> str:
    """Plain-text table, failing criteria first (then inconclusive, then passing)."""
    from chaos.report.tables import fmt_number

    rows = [_HEADER] + [
        (c.id, c.verdict.value, fmt_number(c.measured, c.unit),
         f"{c.comparison} {fmt_number(c.threshold, c.unit)}".strip(), c.reason)
        for c in sorted(criteria, key=lambda c: _ORDER[c.verdict])
    ]
    widths = [max(len(r[i]) for r in rows) for i in range(len(_HEADER) - 1)]
    lines = []
    for n, row in enumerate(rows):
        cells = [cell.ljust(w) for cell, w in zip(row[:-1], widths, strict=True)]
        lines.append("  ".join([*cells, row[-1]]).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in [*widths, len(_HEADER[-1])]))
    return "\n".join(lines)


def summary_text(name: str, result: RunResult) -> str:
    """The report of one run: headline, criteria table, how the run ended, the bundle path."""
    verdict = result.verdict.value if result.verdict is not None else "none"
    lines = [f"drill {name}: {verdict} (run {result.state}, exit {int(result.exit_code)})"]
    if result.reason:
        lines.append(f"reason: {result.reason}")
    criteria = criteria_of(result)
    if criteria:
        lines += ["", criteria_table(criteria), ""]
        counts = {v: sum(c.verdict is v for c in criteria) for v in Verdict}
        lines.append(", ".join(f"{counts[v]} {v.value.lower()}" for v in Verdict))
    lines.append(f"evidence: {result.bundle if result.bundle is not None else 'none (the run never started)'}")
    return "\n".join(lines)


def junit_properties(result: RunResult) -> list[tuple[str, object]]:
    """Name/value pairs for JUnit <property> elements: the verdict, the bundle, load totals and,
    per criterion, its measured value and verdict."""
    props: list[tuple[str, object]] = [
        ("chaos.verdict", result.verdict.value if result.verdict is not None else "none"),
        ("chaos.state", result.state),
        ("chaos.exit_code", int(result.exit_code)),
        ("chaos.evidence", str(result.bundle) if result.bundle is not None else ""),
    ]
    report = result.report
    if report is not None:
        props.append(("chaos.load.started", report.load.started))
        props += [(f"chaos.load.{cls}", n) for cls, n in sorted(report.load.counts.items())]
        for c in report.criteria:
            props.append((f"chaos.measured.{c.id}", "" if c.measured is None else c.measured))
            props.append((f"chaos.verdict.{c.id}", c.verdict.value))
    return props


def decide(name: str, result: RunResult, *, allow_inconclusive: bool) -> None:
    """Raise the test outcome of a finished run (nothing for a PASS of a complete run): a
    failure whose report is `summary_text`, or a skip for an allowed INCONCLUSIVE."""
    text = redact_text(summary_text(name, result))  # pytest prints it and JUnit keeps it
    if result.verdict is Verdict.PASS and result.state == "complete":
        return
    if result.verdict is Verdict.INCONCLUSIVE and result.state == "complete" and allow_inconclusive:
        undecided = [c for c in criteria_of(result) if c.verdict is Verdict.INCONCLUSIVE]
        why = "; ".join(f"{c.id}: {c.reason}" for c in undecided[:3]) or result.reason
        pytest.skip(redact_text(f"drill {name} INCONCLUSIVE: {why} (evidence: {result.bundle})"))
    pytest.fail(text, pytrace=False)  # the report is the table, not a traceback
