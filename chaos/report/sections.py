"""The report's sections as plain rows: summary.md and report.html render the same sections,
so a number reads the same in both (phases, criteria by phase, requests, failures by class
and code, failover timings with definitions, faults)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from chaos.report.evidence import Evidence
from chaos.report.lines import (
    LATENCY_NAMES,
    confidence_flag,
    fmt_p,
    fmt_shift_ms,
    latency_shift_records,
)
from chaos.report.tables import (
    FAULT_HEADER,
    CriteriaMatrix,
    criteria_matrix,
    fault_rows,
    fmt_comparison,
    fmt_time,
    is_phase_criterion,
)
from chaos.report.timings import DEFINITIONS, failover_views
from chaos.report.totals import COUNTING_RULE, RunTotals, class_label, run_totals


@dataclass(frozen=True, slots=True)
class Table:
    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    caption: str = ""


@dataclass(frozen=True, slots=True)
class Section:
    title: str
    paragraphs: tuple[str, ...] = ()
    tables: tuple[Table, ...] = ()
    items: tuple[str, ...] = ()  # a bulleted list after the tables
    empty: str = ""  # said instead when there are no tables, items or paragraphs


def _length(seconds: float) -> str:
    return f"{seconds:,.0f} s" if seconds >= 10 else f"{seconds:.1f} s"


def phases_section(totals: RunTotals) -> Section:
    rows = [(p.name, p.kind, p.tier or "not judged", fmt_time(p.start), fmt_time(p.end),
             _length(p.end - p.start), "-" if p.requests is None else f"{p.requests:,}", p.verdict or "-")
            for p in totals.phases]
    if totals.outside_judged is not None:
        rows.append(("outside the judged phases (ramps)", "", "", "", "", "", f"{totals.outside_judged:,}", ""))
    rows.append(("whole run", "", "", "", "", "", f"{totals.ended:,}", ""))
    header = ("phase", "kind", "tier", "from (UTC)", "to (UTC)", "length", "requests ended", "verdict")
    return Section("Phases", (COUNTING_RULE,), (Table(header, tuple(rows)),))


def criteria_sections(evidence: Evidence) -> list[Section]:
    matrix = criteria_matrix(evidence.criteria, evidence.recording.phases)
    rows = tuple((m, matrix.limits[m], *(_flagged(matrix, m, p) for p in matrix.phases))
                 for m in matrix.metrics)
    paragraphs = ["Tier SLOs, one column per judged phase in time order; `run` is every judged phase together."]
    if any(confidence_flag(c) for c in matrix.cells.values()):
        paragraphs.append(CONFIDENCE_NOTE)
    out = [Section(
        "Criteria by phase",
        tuple(paragraphs),
        (Table(("criterion", "limit", *matrix.phases), rows),) if rows else (),
        empty="No tier SLO was judged.",
    )]
    others = tuple((c.id, c.verdict.value, fmt_comparison(c), c.reason)
                   for c in evidence.criteria if not is_phase_criterion(c))
    if others:
        out.append(Section("Run-wide criteria", (),
                           (Table(("criterion", "verdict", "measured", "reason"), others),)))
    return out


CONFIDENCE_NOTE = (
    "Not shown at 95 %: the threshold decided the verdict on the measured rate, but the rate's "
    "Wilson 95 % interval straddles the threshold, so the data cannot show the verdict at 95 % "
    "confidence; more requests would (docs/evidence.md, Confidence).")


def _flagged(matrix: CriteriaMatrix, metric: str, phase: str) -> str:
    """A matrix cell, with `not shown at 95 %: n=...` when its rate's interval straddles the limit."""
    text = matrix.cell_text(metric, phase)
    c = matrix.cells.get((metric, phase))
    flag = None if c is None else confidence_flag(c)
    return text if flag is None else f"{text}, {flag}"


def latency_shift_section(evidence: Evidence) -> Section:
    records = latency_shift_records(evidence)
    rows = tuple(
        (str(r.get("scope")), LATENCY_NAMES.get(str(r.get("latency")), str(r.get("latency"))),
         fmt_shift_ms(r.get("median_shift_ms")),
         f"{fmt_shift_ms(r.get('shift_low_ms'))} to {fmt_shift_ms(r.get('shift_high_ms'))}",
         fmt_p(r.get("p_value")),
         "n/a" if r.get("prob_slower") is None else f"{r['prob_slower']:.1%}",
         f"{r.get('n_baseline', 0):,}", f"{r.get('n_fault', 0):,}")
        for r in records)
    baselines = sorted({str(r.get("baseline")) for r in records})
    text = (
        f"Context, not a verdict: each fault phase's latencies of complete streams against the "
        f"baseline ({', '.join(baselines)}), from the phases' histograms. Median shift: "
        "Hodges-Lehmann, the median of every fault-minus-baseline difference; the unbinned "
        "samples' shift lies within the bounds. p: Mann-Whitney U, two-sided (normal "
        "approximation, tie-corrected). P(slower): the chance a fault-phase latency exceeds a "
        "baseline one. With thousands of requests any real shift has a small p: read its size.")
    header = ("fault phase", "latency", "median shift", "bounds (bins)", "Mann-Whitney",
              "P(slower)", "n baseline", "n fault")
    return Section("Latency against baseline", (text,) if rows else (),
                   (Table(header, rows),) if rows else (),
                   empty="No fault phase with a baseline phase to compare it with.")


def requests_section(totals: RunTotals) -> Section:
    rows = [("started", f"{totals.started:,}"), ("ended (any outcome)", f"{totals.ended:,}"),
            ("cancelled when the load stopped", f"{totals.cancelled:,}")]
    if totals.in_flight_at_end is not None:
        rows.append(("in flight at the end", f"{totals.in_flight_at_end:,}"))
    if totals.unaccounted is not None:
        state = "reconciled" if totals.reconciled else "NOT reconciled"
        rows.append(("started - ended - cancelled - in flight", f"{totals.unaccounted:+,} ({state})"))
    if totals.late or totals.dropped:
        rows += [("started late (open model)", f"{totals.late:,}"),
                 ("never started, in-flight cap (open model)", f"{totals.dropped:,}")]
    return Section("Requests", (), (Table(("requests", "count"), tuple(rows)),))


def failures_section(totals: RunTotals) -> Section:
    classes = tuple((c.label, f"{c.requests:,}", "-" if c.share is None else f"{c.share:.2%}", c.role)
                    for c in totals.classes)
    tables = [Table(("outcome class", "requests", "of ended", "counts as"), classes)]
    codes = tuple((k, f"{v:,}") for k, v in totals.error_codes)
    if totals.class_codes:
        tables.append(Table(("outcome class", "code", "requests"),
                            tuple((class_label(c), code or "-", f"{n:,}") for c, code, n in totals.class_codes)))
    elif codes:
        tables.append(Table(("error code", "requests"), codes))
    if totals.transport:
        tables.append(Table(("transport failure", "requests"), tuple((k, f"{v:,}") for k, v in totals.transport)))
    paragraphs = () if codes else ("No response body carried an error code.",)
    return Section("Failures by class and code", paragraphs, tuple(tables))


def failover_section(evidence: Evidence) -> Section:
    views = failover_views(evidence)
    if not views:
        return Section("Failover timings", empty="No regional failover in this run.")
    tables = tuple(
        Table(("measure", "value"), tuple(v.values),
              caption=f"Fault {v.fault_id}: region {v.region or '?'} failed over to "
                      f"{v.served_by or 'no other region'}.")
        for v in views)
    items = tuple(f"{d.name} ({d.field}): {d.definition}" for d in DEFINITIONS)
    return Section("Failover timings", (), tables, items)


def faults_section(evidence: Evidence) -> Section:
    faults = evidence.recording.faults
    rows = tuple(tuple(r) for r in fault_rows(faults))
    return Section("Faults", (), (Table(tuple(FAULT_HEADER), rows),) if rows else (), empty="No faults.")


def report_sections(evidence: Evidence) -> list[Section]:
    totals = run_totals(evidence)
    out = [phases_section(totals), *criteria_sections(evidence), latency_shift_section(evidence),
           requests_section(totals),
           failures_section(totals), failover_section(evidence), faults_section(evidence)]
    notes = evidence.report.get("notes") if isinstance(evidence.report, Mapping) else None
    if notes:
        out.append(Section("Notes", items=tuple(str(n) for n in notes)))
    return out
