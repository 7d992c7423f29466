"""Plain lines for CI logs and the JSON form for machines: one line per criterion, never
wrapped, then the scope, the totals and what the exit code means.

A line (docs/evidence.md):
`FAIL  tier_g.p95_first_token@fault:provider-outage  3,310 ms > 2,500 ms  (n=6,634, windows 12-31)  reason`
The reason is given for criteria that did not pass, and only it is shortened to fit COLUMNS.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from chaos.errors import ExitCode
from chaos.report.evidence import Evidence
from chaos.report.facts import run_facts
from chaos.report.manifest import ManifestCheck
from chaos.report.tables import fmt_comparison
from chaos.report.totals import run_totals
from chaos.slo.verdict import Criterion, Verdict

EXIT_MEANING: dict[int, str] = {
    ExitCode.PASS: "every criterion passed",
    ExitCode.FAIL: "a criterion failed, or the run was aborted",
    ExitCode.USAGE: "usage or spec error",
    ExitCode.INCONCLUSIVE: "no criterion failed, but the data could not decide at least one",
    ExitCode.INFRASTRUCTURE: "preflight or infrastructure error (or a bundle that fails its manifest)",
    ExitCode.INTERRUPTED: "interrupted, after every fault was reverted",
}
ELLIPSIS = "..."
CONFIDENCE_FLAG = "not shown at 95 %"
LATENCY_NAMES = {"first_token": "first token", "completion": "completion"}


def wilson_text(c: Criterion) -> str | None:
    """`Wilson 93.73%-97.03%` when a PASS or FAIL rate's 95 % interval straddles its threshold
    (the point estimate decided it, the data did not show it); None otherwise."""
    interval = c.details.get("wilson95")
    if (c.verdict not in (Verdict.PASS, Verdict.FAIL) or c.details.get("shown_at_95") is not False
            or not isinstance(interval, Sequence) or len(interval) != 2):
        return None
    return f"Wilson {interval[0]:.2%}-{interval[1]:.2%}"


def confidence_flag(c: Criterion) -> str | None:
    """`not shown at 95 %: n=600 (Wilson 93.73%-97.03%)`, or None (docs/evidence.md, Confidence)."""
    wilson = wilson_text(c)
    n = c.details.get("n")
    return None if wilson is None else f"{CONFIDENCE_FLAG}: n={n:,} ({wilson})"


def observations(c: Criterion, run_start: float) -> str:
    """`n=6,634, windows 12-31`: how much data decided the criterion and where.

    n counts ended requests (rates), latencies (p95s) or probe seconds (availability);
    windows are the one-second load windows, numbered by seconds from the run's start."""
    parts = []
    d = c.details
    for key, suffix in (("denominator", ""), ("count", ""), ("probe_seconds_with_data", " probe s")):
        if isinstance(d.get(key), int):
            parts.append(f"n={d[key]:,}{suffix}")
            break
    if c.window_start is not None and c.window_end is not None and c.window_end > c.window_start:
        first = math.floor(c.window_start - run_start + 1e-6)
        last = max(first, math.ceil(c.window_end - run_start - 1e-6) - 1)
        parts.append(f"windows {first}-{last}")
    if (wilson := wilson_text(c)) is not None:
        parts.append(f"{CONFIDENCE_FLAG}: {wilson}")
    return ", ".join(parts)


def criterion_line(c: Criterion, *, run_start: float, verdict_width: int = 4,
                   columns: int | None = None) -> str:
    """One criterion on one line; `columns` only shortens the reason (never the rest)."""
    head = f"{c.verdict.value:<{verdict_width}}  {c.id}  {fmt_comparison(c)}"
    seen = observations(c, run_start)
    if seen:
        head += f"  ({seen})"
    if c.verdict is Verdict.PASS or not c.reason:
        return head
    reason = " ".join(c.reason.split())
    if columns is not None:
        room = columns - len(head) - 2
        if room < len(ELLIPSIS) + 8:
            return head
        if len(reason) > room:
            reason = reason[: room - len(ELLIPSIS)].rstrip() + ELLIPSIS
    return f"{head}  {reason}"


def criteria_lines(evidence: Evidence, *, columns: int | None = None) -> list[str]:
    width = max((len(c.verdict.value) for c in evidence.criteria), default=4)
    start = evidence.recording.started_at
    return [criterion_line(c, run_start=start, verdict_width=width, columns=columns)
            for c in evidence.criteria]


def verdict_counts(criteria: Sequence[Criterion]) -> str:
    """`30 criteria: 27 PASS, 2 FAIL, 1 INCONCLUSIVE`."""
    counts = {v: sum(1 for c in criteria if c.verdict is v) for v in Verdict}
    shown = ", ".join(f"{n} {v.value}" for v, n in counts.items() if n)
    return f"{len(criteria)} criteria: {shown or 'none'}"


def latency_shift_records(evidence: Evidence) -> list[Mapping[str, Any]]:
    """The evaluator's per-fault-phase latency shifts (`report.latency_shift`), if any."""
    found = evidence.report.get("latency_shift") if isinstance(evidence.report, Mapping) else None
    return [r for r in found if isinstance(r, Mapping)] if isinstance(found, Sequence) else []


def fmt_shift_ms(ms: float | None) -> str:
    if ms is None:
        return "n/a"
    return f"{ms:+,.0f} ms" if abs(ms) >= 10 else f"{ms:+.1f} ms"


def fmt_p(p: float | None) -> str:
    if p is None:
        return "p n/a"
    return "p<0.001" if p < 0.001 else f"p={p:.3f}"


def latency_shift_lines(evidence: Evidence) -> list[str]:
    """`latency vs baseline, fault:x: first token +400 ms (p<0.001, n=400 vs 800), ...`:
    one line per fault phase, context for its criteria (never a verdict)."""
    by_scope: dict[str, list[str]] = {}
    for r in latency_shift_records(evidence):
        name = LATENCY_NAMES.get(str(r.get("latency")), str(r.get("latency")))
        by_scope.setdefault(str(r.get("scope")), []).append(
            f"{name} {fmt_shift_ms(r.get('median_shift_ms'))} ({fmt_p(r.get('p_value'))}, "
            f"n={r.get('n_fault', 0):,} vs {r.get('n_baseline', 0):,})")
    return [f"latency vs baseline, {scope}: {', '.join(parts)}" for scope, parts in by_scope.items()]


def totals_lines(evidence: Evidence) -> list[str]:
    """The scope, the request totals and the criteria counts, one line each."""
    facts = run_facts(evidence)
    totals = run_totals(evidence)
    lines = [f"scope: {facts.scope_text()}"]
    if (note := facts.scaled_note()) is not None:
        lines.append(note)
    classes = ", ".join(f"{c.label} {c.requests:,}" for c in totals.classes if c.requests)
    text = (f"requests: {totals.started:,} started, {totals.ended:,} ended ({classes or 'none'}), "
            f"{totals.cancelled:,} cancelled")
    if totals.in_flight_at_end is not None:
        text += f", {totals.in_flight_at_end:,} in flight at the end"
    if totals.reconciled is False:
        text += f" - NOT reconciled, {totals.unaccounted:+,} unaccounted"
    if totals.judged is not None:
        text += f"; {totals.judged:,} ended inside the judged phases"
    lines.append(text)
    if totals.error_codes:
        lines.append("error codes: " + ", ".join(f"{k} {v:,}" for k, v in totals.error_codes))
    lines += latency_shift_lines(evidence)
    lines.append(verdict_counts(evidence.criteria))
    return lines


def exit_line(verdict: str, exit_code: int, *, state: str = "complete") -> str:
    """`FAIL: exit 1 (a criterion failed, or the run was aborted)`."""
    ran = "" if state == "complete" else f" (run {state})"
    meaning = EXIT_MEANING.get(exit_code, "see DESIGN section 6")
    return f"{verdict}{ran}: exit {exit_code} ({meaning})"


def plain_report(evidence: Evidence, *, exit_code: int, manifest: ManifestCheck | None = None,
                 bundle: Path | None = None, columns: int | None = None) -> list[str]:
    """Everything `chaos run` / `chaos report` print when stdout is not a terminal."""
    lines = criteria_lines(evidence, columns=columns)
    lines += totals_lines(evidence)
    if manifest is not None:
        lines.append(manifest.line())
    if bundle is not None:
        lines.append(f"evidence: {bundle}")
    lines.append(exit_line(evidence.verdict.value, exit_code, state=evidence.state))
    return lines


def criteria_document(evidence: Evidence, *, exit_code: int, manifest: ManifestCheck | None = None,
                      bundle: Path | None = None) -> dict[str, Any]:
    """`--format json`: the verdict and the criteria exactly as evidence.json holds them."""
    facts = run_facts(evidence)
    return {
        "run_id": evidence.run_id,
        "drill": evidence.drill,
        "state": evidence.state,
        "verdict": evidence.verdict.value,
        "exit_code": exit_code,
        "exit_meaning": EXIT_MEANING.get(exit_code),
        "scope": {"tier": facts.tier, "tier_streams": facts.tier_streams,
                  "streams_driven": facts.streams_driven, "rate_driven": facts.rate_driven,
                  "peak_in_flight": facts.peak_in_flight, "scaled": facts.scaled,
                  "time_scale": facts.time_scale, "load_scale": facts.load_scale},
        "manifest": None if manifest is None else {"ok": manifest.ok, "files": manifest.files,
                                                   "problems": list(manifest.problems)},
        "bundle": None if bundle is None else str(bundle),
        "criteria": [c.to_json() for c in evidence.criteria],
    }
