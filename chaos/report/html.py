"""`report.html`: the run on one page - a header with its facts and coloured verdict, what did
not pass, one chart per panel (chaos.report.charts), then the report's sections.

plotly.js (4.8 MB, no partial bundle on PyPI) is written once per bundle as `plotly.min.js`
beside the page and loaded by a relative script tag, so the page stays small, is sealed by
the manifest with it, and works offline wherever the bundle directory is copied.
"""

from __future__ import annotations

import html
import json
from collections.abc import Sequence
from importlib import resources
from pathlib import Path

from chaos.report.bundle import write_text_atomic
from chaos.report.charts import Panel, build_panels
from chaos.report.evidence import Evidence
from chaos.report.facts import RunFacts, run_facts
from chaos.report.lines import observations, verdict_counts
from chaos.report.sections import Section, report_sections
from chaos.report.tables import fmt_comparison, fmt_time
from chaos.report.totals import run_totals
from chaos.slo.verdict import Verdict

PLOTLY_ASSET = "plotly.min.js"
_FLAGGED = ("PASS", "FAIL", "INCONCLUSIVE", "NOT reconciled")

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 0 auto; max-width: 1280px; padding: 1em 2em; color: #222; }
header { border-left: 10px solid #888; padding: 0.3em 1em; margin-bottom: 1em; background: #fafafa; }
header.PASS { border-color: #2ca02c; } header.FAIL { border-color: #d62728; } header.INCONCLUSIVE { border-color: #e6a700; }
h1 { margin: 0.2em 0; } .badge { padding: 0.1em 0.5em; border-radius: 4px; color: #fff; }
.badge.PASS { background: #2ca02c; } .badge.FAIL { background: #d62728; } .badge.INCONCLUSIVE { background: #e6a700; }
dl.facts { display: grid; grid-template-columns: max-content auto; gap: 0.15em 1em; margin: 0.6em 0; }
dl.facts dt { font-weight: 600; } dl.facts dd { margin: 0; }
.banner { padding: 0.5em 1em; margin: 0.5em 0; border-radius: 4px; }
.banner.incomplete { background: #fdd; } .banner.scaled { background: #fff3cd; }
table { border-collapse: collapse; margin: 0.6em 0 1.2em; font-size: 90%; }
th, td { border: 1px solid #ccc; padding: 3px 8px; text-align: left; vertical-align: top; }
td.PASS { color: #1a7f1a; } td.FAIL, td.NOT { color: #c00; font-weight: 600; } td.INCONCLUSIVE { color: #b07800; font-weight: 600; }
section.panel { margin: 1.2em 0; } section.panel h3 { margin: 0.2em 0; } p.note { margin: 0 0 0.2em; color: #555; font-size: 90%; }
#charts-missing { background: #fdd; padding: 0.5em 1em; }
"""

_SCRIPT = """
(function () {
  var panels = JSON.parse(document.getElementById("panel-data").textContent);
  if (typeof Plotly === "undefined") {
    document.getElementById("charts-missing").hidden = false;
    return;
  }
  var divs = panels.map(function (p) {
    var div = document.getElementById("panel-" + p.key);
    Plotly.newPlot(div, p.data, p.layout, {displaylogo: false, responsive: true});
    return div;
  });
  // One time range for every panel: zooming one zooms them all.
  var syncing = false;
  divs.forEach(function (div) {
    div.on("plotly_relayout", function (ev) {
      if (syncing) { return; }
      var range = ev["xaxis.range"] || (ev["xaxis.range[0]"] !== undefined ? [ev["xaxis.range[0]"], ev["xaxis.range[1]"]] : null);
      if (!range && !ev["xaxis.autorange"]) { return; }
      syncing = true;
      var update = range ? {"xaxis.range": range} : {"xaxis.range": div.layout.xaxis.range, "xaxis.autorange": false};
      Promise.all(divs.filter(function (d) { return d !== div; }).map(function (d) {
        return Plotly.relayout(d, update);
      })).then(function () { syncing = false; }, function () { syncing = false; });
    });
  });
  document.body.setAttribute("data-panels-drawn", String(divs.length));
})();
"""


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _cell(text: str) -> str:
    first = text.split(" ", 1)[0] if text.startswith(_FLAGGED) else ""
    return f'<td class="{_e(first)}">{_e(text)}</td>' if first else f"<td>{_e(text)}</td>"


def html_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(_cell(c) for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def html_section(section: Section) -> str:
    parts = [f"<h2>{_e(section.title)}</h2>"]
    parts += [f"<p>{_e(p)}</p>" for p in section.paragraphs]
    for t in section.tables:
        if t.caption:
            parts.append(f"<p>{_e(t.caption)}</p>")
        parts.append(html_table(t.header, t.rows))
    if section.items:
        parts.append("<ul>" + "".join(f"<li>{_e(i)}</li>" for i in section.items) + "</ul>")
    if not (section.paragraphs or section.tables or section.items):
        parts.append(f"<p><em>{_e(section.empty)}</em></p>")
    return "\n".join(parts)


def _header(evidence: Evidence, facts: RunFacts) -> str:
    verdict = evidence.verdict.value
    totals = run_totals(evidence)
    rows = [
        ("verdict", f"{verdict}: {verdict_counts(evidence.criteria)}"),
        ("scope", facts.scope_text()),
        ("run", f"{evidence.run_id} ({evidence.state})"),
        ("window", f"{fmt_time(facts.started_at)} - {fmt_time(facts.ended_at)} UTC, {facts.duration_s:,.0f} s"),
        ("scaling", f"time scale {facts.time_scale:g}, load scale {facts.load_scale:g}"),
        ("requests", f"{totals.started:,} started, {totals.ended:,} ended, "
                     f"{totals.server_failures:,} server-side failures, {totals.count('429'):,} shed (429)"),
    ]
    if facts.commit:
        rows.append(("drill files", f"commit {facts.commit}{' (modified)' if facts.commit_dirty else ''}"))
    if facts.tool_version:
        rows.append(("tool", f"chaos-drills {facts.tool_version}"))
    facts_html = "".join(f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>" for k, v in rows)
    banners = ""
    if not evidence.complete:
        banners += (f'<p class="banner incomplete"><strong>INCOMPLETE RUN</strong> '
                    f"({_e(evidence.recording.aborted or evidence.state)}): never a pass.</p>")
    if (note := facts.scaled_note()) is not None:
        banners += f'<p class="banner scaled"><strong>{_e(note)}</strong></p>'
    return (f'<header class="{_e(verdict)}"><h1>Drill {_e(evidence.drill)} '
            f'<span class="badge {_e(verdict)}" id="verdict">{_e(verdict)}</span></h1>'
            f'<dl class="facts">{facts_html}</dl>{banners}</header>')


def _not_passed(evidence: Evidence) -> str:
    rows = [(c.verdict.value, c.id, fmt_comparison(c), observations(c, evidence.recording.started_at), c.reason)
            for c in evidence.criteria if c.verdict is not Verdict.PASS]
    if not rows:
        return "<h2>Every criterion passed</h2>"
    return "<h2>What did not pass</h2>" + html_table(("verdict", "criterion", "measured", "data", "reason"), rows)


def _charts(panels: Sequence[Panel]) -> str:
    blocks = "\n".join(
        f'<section class="panel"><h3>{_e(p.title)}</h3><p class="note">{_e(p.note)}</p>'
        f'<div class="chart" id="panel-{_e(p.key)}"></div></section>' for p in panels)
    data = json.dumps([{"key": p.key, "data": p.data, "layout": p.layout} for p in panels],
                      separators=(",", ":"), allow_nan=False).replace("</", "<\\/")
    return (f'<h2>Charts</h2><p id="charts-missing" hidden>The charts need {PLOTLY_ASSET} beside this page '
            f"(it is part of the bundle); the tables hold every figure.</p>"
            f'<div id="charts" data-panels="{len(panels)}">{blocks}</div>'
            f'<script type="application/json" id="panel-data">{data}</script>')


def render_html(evidence: Evidence) -> str:
    facts = run_facts(evidence)
    panels = build_panels(evidence)
    sections = "\n".join(html_section(s) for s in report_sections(evidence))
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{_e(evidence.drill)}: {_e(evidence.verdict.value)}</title>
<style>{_STYLE}</style></head><body>
{_header(evidence, facts)}
{_not_passed(evidence)}
{_charts(panels)}
{sections}
<p>Integrity: <code>manifest.sha256</code> in this bundle (<code>sha256sum -c manifest.sha256</code>).</p>
<script src="{PLOTLY_ASSET}" onerror="document.getElementById('charts-missing').hidden = false"></script>
<script>{_SCRIPT}</script>
</body></html>
"""


def plotly_js() -> bytes:
    """The full plotly.js bundle shipped inside the plotly package."""
    return (resources.files("plotly") / "package_data" / PLOTLY_ASSET).read_bytes()


def write_html(bundle_dir: Path, evidence: Evidence) -> list[Path]:
    """Write report.html and its plotly.js asset; returns both paths."""
    page = bundle_dir / "report.html"
    asset = bundle_dir / PLOTLY_ASSET
    code = plotly_js()
    if not asset.is_file() or asset.read_bytes() != code:
        tmp = asset.with_name(asset.name + ".tmp")
        tmp.write_bytes(code)
        tmp.replace(asset)
    write_text_atomic(page, render_html(evidence))  # secrets redacted on the way out
    return [page, asset]
