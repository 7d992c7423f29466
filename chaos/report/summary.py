"""`summary.md`: what a reviewer signs - the verdict and the run's scope first, then the
report's sections (chaos.report.sections) as Markdown."""

from __future__ import annotations

from collections.abc import Sequence

from chaos.report.evidence import Evidence
from chaos.report.facts import run_facts
from chaos.report.lines import verdict_counts
from chaos.report.sections import Section, report_sections
from chaos.report.series import driver_figures, load_totals
from chaos.report.tables import fmt_time
from chaos.report.totals import run_totals

_FLAGGED = ("FAIL", "INCONCLUSIVE", "NOT reconciled")


def _cell(text: str) -> str:
    text = text.replace("|", "\\|").replace("\n", " ")
    return f"**{text}**" if text.startswith(_FLAGGED) else text


def md_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(h.replace("|", "\\|") for h in header) + " |", "|" + " --- |" * len(header)]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def md_section(section: Section) -> list[str]:
    lines = [f"## {section.title}", ""]
    for p in section.paragraphs:
        lines += [p, ""]
    for t in section.tables:
        if t.caption:
            lines += [t.caption, ""]
        lines += [md_table(t.header, t.rows), ""]
    if section.items:
        lines += [*(f"- {item}" for item in section.items), ""]
    if not (section.paragraphs or section.tables or section.items):
        lines += [f"_{section.empty}_", ""]
    return lines


def render_summary(evidence: Evidence) -> str:
    rec = evidence.recording
    facts = run_facts(evidence)
    lines = [f"# Drill `{evidence.drill}`: **{evidence.verdict.value}**", ""]
    if not evidence.complete:
        lines += [f"> **INCOMPLETE RUN** ({rec.aborted or evidence.state}): the run did not finish; "
                  "these verdicts cover only what was recorded and can never count as a pass.", ""]
    if (note := facts.scaled_note()) is not None:
        lines += [f"> **{note}**", ""]
    lines += [
        f"- verdict: **{evidence.verdict.value}**, {verdict_counts(evidence.criteria)}",
        f"- scope: {facts.scope_text()}",
        f"- run id: `{evidence.run_id}`, state: {evidence.state}",
        f"- window: {fmt_time(rec.started_at)} - {fmt_time(rec.ended_at)} UTC ({facts.duration_s:,.0f} s)",
        f"- time scale: {rec.time_scale:g}, load scale: {rec.load_scale:g}",
    ]
    if facts.commit:
        lines.append(f"- drill files at commit `{facts.commit}`{' (modified)' if facts.commit_dirty else ''}")
    totals = run_totals(evidence)
    classes = ", ".join(f"{c.label}: {c.requests:,}" for c in totals.classes)
    regions = load_totals(rec).regions
    driver = driver_figures(rec)
    lines += [
        f"- requests ended: {totals.ended:,} ({classes}); started {totals.started:,}, "
        f"cancelled {totals.cancelled:,}",
        f"- served by region: {', '.join(f'{k}: {v:,}' for k, v in sorted(regions.items())) or 'n/a'}",
        f"- load driver: {driver.workers} worker(s), {driver.saturated_windows}/{driver.windows} saturated "
        f"windows, max loop lag p99 {driver.max_loop_lag_p99_ms:.0f} ms, max CPU {driver.max_cpu_percent:.0f}%",
        "",
    ]
    for section in report_sections(evidence):
        lines += md_section(section)
    lines += ["Charts: `report.html` in this bundle. Integrity: `manifest.sha256` (sha256sum -c).", ""]
    return "\n".join(lines)
