"""`summary.md`: what a reviewer signs - verdict, criteria, SLOs per phase, failover, faults."""

from __future__ import annotations

from collections.abc import Sequence

from chaos.report.evidence import Evidence
from chaos.report.series import driver_figures, load_totals
from chaos.report.tables import (
    CRITERIA_HEADER,
    FAULT_HEADER,
    criteria_rows,
    failover_rows,
    fault_rows,
    fmt_time,
    phase_table,
)


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    def cell(text: str) -> str:
        return text.replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(cell(h) for h in header) + " |", "|" + " --- |" * len(header)]
    lines += ["| " + " | ".join(cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def render_summary(evidence: Evidence) -> str:
    rec = evidence.recording
    lines = [f"# Drill `{evidence.drill}`: **{evidence.verdict.value}**", ""]
    if not evidence.complete:
        reason = rec.aborted or evidence.state
        lines += [
            f"> **INCOMPLETE RUN** ({reason}): the run did not finish; these verdicts cover only "
            "what was recorded and can never count as a pass.",
            "",
        ]
    lines += [
        f"- run id: `{evidence.run_id}`",
        f"- state: {evidence.state}",
        f"- window: {fmt_time(rec.started_at)} - {fmt_time(rec.ended_at)} UTC "
        f"({rec.ended_at - rec.started_at:.0f} s)",
        f"- time scale: {rec.time_scale:g}, load scale: {rec.load_scale:g}",
    ]
    git = evidence.meta.get("git")
    if isinstance(git, dict) and git.get("commit"):
        lines.append(f"- drill files at commit `{git['commit']}`{' (modified)' if git.get('dirty') else ''}")
    totals = load_totals(rec)
    driver = driver_figures(rec)
    counts = ", ".join(f"{k}: {v:,}" for k, v in totals.counts.items())
    lines += [
        f"- requests: {totals.requests:,} ({counts}); cancelled {totals.cancelled:,}, dropped {totals.dropped:,}",
        f"- served by region: {', '.join(f'{k}: {v:,}' for k, v in sorted(totals.regions.items())) or 'n/a'}",
        f"- driver: {driver.workers} worker(s), {driver.saturated_windows}/{driver.windows} saturated windows, "
        f"max loop lag p99 {driver.max_loop_lag_p99_ms:.0f} ms, max CPU {driver.max_cpu_percent:.0f}%",
        "",
        "## Criteria",
        "",
        _table(CRITERIA_HEADER, criteria_rows(evidence.criteria)) if evidence.criteria else "_none_",
        "",
        "## SLOs per phase",
        "",
    ]
    header, rows = phase_table(evidence.criteria, rec.phases)
    lines += [_table(header, rows) if rows else "_no phase was judged_", ""]
    lines += ["## Failover timings", ""]
    fo = failover_rows(evidence.failover)
    lines += [_table(["measure", "value"], fo) if fo else "_no regional failover in this run_", ""]
    lines += ["## Faults", ""]
    lines += [_table(FAULT_HEADER, fault_rows(rec.faults)) if rec.faults else "_no faults_", ""]
    if totals.error_codes:
        lines += ["## Error codes", "", _table(["code", "count"], [[k, f"{v:,}"] for k, v in sorted(totals.error_codes.items())]), ""]
    lines += ["Charts: `report.html` in this bundle. Integrity: `manifest.sha256` (sha256sum -c).", ""]
    return "\n".join(lines)
