"""`report.html`: a self-contained page (plotly.js inline, works offline) with the run's charts."""

from __future__ import annotations

import html
from collections.abc import Sequence
from datetime import UTC, datetime

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from chaos.recording import STATUS_CLASSES, Phase
from chaos.report.evidence import Evidence
from chaos.report.series import load_series, sample_series
from chaos.report.tables import (
    CRITERIA_HEADER,
    FAULT_HEADER,
    criteria_rows,
    criterion_metric,
    failover_rows,
    fault_rows,
    phase_table,
)
from chaos.slo.verdict import Criterion

_ROWS = (
    "Throughput (requests/s) and in-flight streams",
    "Status classes (% of requests ended per second)",
    "p95 first-token latency (ms)",
    "p95 completion latency (ms)",
    "Provider circuit state (0 closed, 0.5 half-open, 1 open)",
    "Queue oldest-job age (s)",
    "Active region / served-by-region (requests/s)",
)
_CLASS_COLOURS = {"2xx": "#2ca02c", "429": "#ff7f0e", "4xx": "#9467bd", "5xx": "#d62728", "transport": "#8c564b"}


def _dt(t: float) -> datetime:
    return datetime.fromtimestamp(t, tz=UTC)


def build_figure(evidence: Evidence) -> go.Figure:
    rec = evidence.recording
    fig = make_subplots(rows=len(_ROWS), cols=1, shared_xaxes=True, subplot_titles=_ROWS, vertical_spacing=0.035)
    points = load_series(rec.windows)
    xs = [_dt(p.t) for p in points]
    fig.add_trace(go.Scatter(x=xs, y=[p.ended for p in points], name="ended/s", mode="lines"), row=1, col=1)
    fig.add_trace(go.Scatter(x=xs, y=[p.started for p in points], name="started/s", mode="lines"), row=1, col=1)
    fig.add_trace(go.Scatter(x=xs, y=[p.in_flight for p in points], name="in flight", mode="lines", line={"dash": "dot"}), row=1, col=1)
    for cls in STATUS_CLASSES:
        ys = [None if (r := p.rate(cls)) is None else r * 100 for p in points]
        fig.add_trace(go.Scatter(x=xs, y=ys, name=cls, mode="lines", line={"color": _CLASS_COLOURS[cls]}), row=2, col=1)
    fig.add_trace(go.Scatter(x=xs, y=[p.p95_first_token_ms for p in points], name="p95 first token", mode="lines"), row=3, col=1)
    fig.add_trace(go.Scatter(x=xs, y=[p.p95_completion_ms for p in points], name="p95 completion", mode="lines"), row=4, col=1)
    _thresholds(fig, evidence.criteria, rec.phases, "first_token", 3)
    _thresholds(fig, evidence.criteria, rec.phases, "completion", 4)
    for row, metric in ((5, "circuit_state"), (6, "queue_oldest_age_s")):
        for s in sample_series(rec.samples, metric):
            fig.add_trace(go.Scatter(x=[_dt(t) for t in s.t], y=s.values, name=s.label_text, mode="lines", line={"shape": "hv"}), row=row, col=1)
    for s in sample_series(rec.samples, "active_region"):
        fig.add_trace(go.Scatter(x=[_dt(t) for t in s.t], y=s.values, name=s.label_text, mode="lines", line={"shape": "hv"}), row=7, col=1)
    regions = sorted({r for p in points for r in p.regions})
    for region in regions:
        fig.add_trace(go.Scatter(x=xs, y=[p.regions.get(region, 0) for p in points], name=f"served by {region}", mode="lines", stackgroup="regions"), row=7, col=1)
    for f in rec.faults:
        start = f.applied_at or f.scheduled_at
        end = f.reverted_at or f.scheduled_end
        fig.add_vrect(x0=_dt(start), x1=_dt(end), fillcolor="#d62728", opacity=0.12, line_width=0, row="all", col=1)
        fig.add_annotation(x=_dt(start), y=1.0, yref="y domain", text=f"fault {f.id}", showarrow=False, xanchor="left", row=1, col=1)
    fig.update_layout(height=260 * len(_ROWS), hovermode="x unified", margin={"l": 60, "r": 20, "t": 40, "b": 40})
    return fig


def _thresholds(fig: go.Figure, criteria: Sequence[Criterion], phases: Sequence[Phase], key: str, row: int) -> None:
    by_scope = {p.name: p for p in phases}
    for c in criteria:
        if key not in criterion_metric(c) or c.threshold is None or c.unit != "ms":
            continue
        phase = by_scope.get(c.scope)
        start = c.window_start if c.window_start is not None else (phase.start if phase else None)
        end = c.window_end if c.window_end is not None else (phase.end if phase else None)
        if start is None or end is None:
            continue
        fig.add_trace(
            go.Scatter(
                x=[_dt(start), _dt(end)], y=[c.threshold, c.threshold], mode="lines",
                name=f"limit {c.scope}", line={"color": "#d62728", "dash": "dash", "width": 1}, showlegend=False,
            ),
            row=row, col=1,
        )


def _html_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f'<td class="{html.escape(c)}">{html.escape(c)}</td>' for c in row) + "</tr>" for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def render_html(evidence: Evidence) -> str:
    rec = evidence.recording
    chart = build_figure(evidence).to_html(full_html=False, include_plotlyjs=True)
    header, rows = phase_table(evidence.criteria, rec.phases)
    banner = (
        ""
        if evidence.complete
        else f'<p class="incomplete">INCOMPLETE RUN ({html.escape(rec.aborted or evidence.state)}): never a pass.</p>'
    )
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(evidence.drill)}: {evidence.verdict.value}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em; }}
table {{ border-collapse: collapse; margin: 1em 0; font-size: 90%; }}
th, td {{ border: 1px solid #ccc; padding: 3px 8px; text-align: left; }}
td.PASS {{ color: #2ca02c; font-weight: bold; }} td.FAIL {{ color: #d62728; font-weight: bold; }}
td.INCONCLUSIVE {{ color: #ff7f0e; font-weight: bold; }} .incomplete {{ background: #fdd; padding: 8px; }}
</style></head><body>
<h1>{html.escape(evidence.drill)}: <span class="{evidence.verdict.value}">{evidence.verdict.value}</span></h1>
{banner}
<p>run {html.escape(evidence.run_id)}, state {html.escape(evidence.state)}, time scale {rec.time_scale:g}, load scale {rec.load_scale:g}</p>
<h2>Criteria</h2>{_html_table(CRITERIA_HEADER, criteria_rows(evidence.criteria))}
<h2>SLOs per phase</h2>{_html_table(header, rows)}
<h2>Failover timings</h2>{_html_table(["measure", "value"], failover_rows(evidence.failover))}
<h2>Faults</h2>{_html_table(FAULT_HEADER, fault_rows(rec.faults))}
<h2>Charts</h2>{chart}
</body></html>
"""
