"""The charts of report.html as plain plotly.js figures (JSON-able dicts), one per panel.

Every panel has its own legend and time axis over the same range, phase shading by kind,
and threshold lines where a criterion judges what it plots. Fault labels live only in the
timeline panel, one lane per fault, so they never overlap. Long runs are bucketed to at most
MAX_POINTS points per trace, which keeps report.html small.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from chaos.recording import (
    CLASS_LABELS,
    STATUS_CLASSES,
    Phase,
    ProbeSecond,
    Sample,
    server_failures,
)
from chaos.report.evidence import Evidence
from chaos.report.series import SecondPoint, load_series, sample_series
from chaos.report.tables import criterion_metric, is_phase_criterion, limit_text
from chaos.slo.verdict import Criterion

MAX_POINTS = 1200
CLASS_COLOURS = {
    "2xx": "#2ca02c", "429": "#ff7f0e", "4xx": "#9467bd", "5xx": "#d62728", "transport": "#8c564b",
    "broken": "#e377c2", "truncated": "#bcbd22", "stalled": "#17becf", "malformed": "#7f7f7f",
}
_SPARE_COLOURS = ("#393b79", "#637939", "#8c6d31", "#843c39", "#7b4173")
PHASE_COLOURS = {
    "ramp_up": "#9e9e9e", "baseline": "#2ca02c", "fault": "#d62728", "recovery": "#1f77b4",
    "ramp_down": "#9e9e9e", "whole": "#cccccc",
}
LIMIT_COLOUR = "#b00020"

Json = dict[str, Any]


def class_colour(status_class: str) -> str:
    if status_class in CLASS_COLOURS:
        return CLASS_COLOURS[status_class]
    return _SPARE_COLOURS[sum(map(ord, status_class)) % len(_SPARE_COLOURS)]


@dataclass(frozen=True, slots=True)
class Panel:
    key: str
    title: str
    note: str
    data: list[Json]
    layout: Json = field(default_factory=dict)


def ms(t: float) -> int:
    """Plotly reads a number on a date axis as milliseconds since the epoch, in UTC."""
    return round(t * 1000)


class _Frame:
    """What every panel shares: the time range, the phases, the bucket size."""

    def __init__(self, evidence: Evidence) -> None:
        rec = evidence.recording
        self.start, self.end = rec.started_at, max(rec.ended_at, rec.started_at + 1)
        self.phases = [p for p in rec.phases if p.kind != "whole" and p.end > p.start]
        self.bucket_s = max(1, math.ceil((self.end - self.start) / MAX_POINTS))
        self.criteria = evidence.criteria

    def layout(self, y: Json, *, y2: Json | None = None, height: int = 260) -> Json:
        out: Json = {
            "height": height,
            "margin": {"l": 72, "r": 72, "t": 36, "b": 44},
            "xaxis": {"type": "date", "range": [ms(self.start), ms(self.end)], "tickformat": "%H:%M:%S",
                      "hoverformat": "%H:%M:%S", "title": {"text": "time (UTC)"}, "showline": True},
            "yaxis": {"rangemode": "tozero", "zeroline": True, **y},
            "legend": {"orientation": "h", "x": 0, "xanchor": "left", "y": 1.02, "yanchor": "bottom",
                       "traceorder": "normal"},
            "hovermode": "x unified",
            "showlegend": True,  # a legend even for one trace: every panel names what it draws
            "shapes": [self.shade(p) for p in self.phases],
            "plot_bgcolor": "#ffffff",
        }
        if y2 is not None:
            out["yaxis2"] = {"overlaying": "y", "side": "right", "rangemode": "tozero", "showgrid": False, **y2}
        return out

    @staticmethod
    def shade(p: Phase) -> Json:
        return {"type": "rect", "xref": "x", "yref": "paper", "x0": ms(p.start), "x1": ms(p.end), "y0": 0,
                "y1": 1, "fillcolor": PHASE_COLOURS.get(p.kind, "#cccccc"), "opacity": 0.09,
                "line": {"width": 0}, "layer": "below"}

    def limits(self, metric: str, label: str, colour: str = LIMIT_COLOUR) -> list[Json]:
        """One dashed trace per distinct threshold of `metric`, a segment per judged phase."""
        phases = {p.name: p for p in self.phases}
        by_limit: dict[str, list[tuple[Criterion, Phase]]] = {}
        for c in self.criteria:
            if (is_phase_criterion(c) and criterion_metric(c) == metric and c.threshold is not None
                    and c.scope in phases):
                by_limit.setdefault(limit_text(c), []).append((c, phases[c.scope]))
        traces = []
        for text, found in by_limit.items():
            xs: list[int | None] = []
            ys: list[float | None] = []
            for c, p in found:
                assert c.threshold is not None
                xs += [ms(p.start), ms(p.end), None]
                ys += [c.threshold, c.threshold, None]
            traces.append({"type": "scatter", "mode": "lines", "x": xs, "y": ys, "name": f"limit: {label} {text}",
                           "line": {"color": colour, "dash": "dash", "width": 1.5}, "hoverinfo": "skip"})
        return traces


def _line(name: str, xs: Sequence[int], ys: Sequence[float | None], **extra: Any) -> Json:
    return {"type": "scatter", "mode": "lines", "name": name, "x": list(xs), "y": list(ys),
            "connectgaps": False, **extra}


def _rounded(values: Iterable[float | None], digits: int = 3) -> list[float | None]:
    return [None if v is None else round(v, digits) for v in values]


def timeline_panel(evidence: Evidence, frame: _Frame) -> Panel | None:
    """Lane 1: the phases; then one lane per fault. A lane's label sits above its bars, in the
    lane's own row, so no two labels can overlap whatever the faults' timing."""
    faults = sorted(evidence.recording.faults, key=lambda f: f.applied_at or f.scheduled_at)
    if not frame.phases and not faults:
        return None
    lanes = ["phases", *(f"fault {f.id}" for f in faults)]
    labels = ["phases", *(f"fault {f.id}: {f.scenario} {f.mode} on {f.target}" for f in faults)]
    data: list[Json] = []
    bar: Json = {"type": "bar", "orientation": "h", "width": 0.4, "offset": 0.0,
                 "hovertemplate": "%{text}<extra></extra>"}
    for kind in dict.fromkeys(p.kind for p in frame.phases):
        group = [p for p in frame.phases if p.kind == kind]
        data.append({**bar, "name": kind.replace("_", " "), "y": ["phases"] * len(group),
                     "base": [ms(p.start) for p in group], "x": [ms(p.end) - ms(p.start) for p in group],
                     "text": [p.name for p in group], "textposition": "inside", "insidetextanchor": "middle",
                     "marker": {"color": PHASE_COLOURS.get(kind, "#cccccc"), "opacity": 0.55}})
    bars: dict[str, list[tuple[str, float, float, str]]] = {"fault scheduled": [], "fault in effect": [],
                                                            "fault not reverted": []}
    for f, lane in zip(faults, lanes[1:], strict=True):
        bars["fault scheduled"].append((lane, f.scheduled_at, f.scheduled_end, f"{f.id} scheduled"))
        if f.applied_at is not None:
            end = f.reverted_at if f.reverted_at is not None else frame.end
            shown = "fault in effect" if f.reverted_at is not None else "fault not reverted"
            bars[shown].append((lane, f.applied_at, end, f"{f.id}: {f.mode} on {f.target}"))
    colours = {"fault scheduled": "#f4b6b6", "fault in effect": "#d62728", "fault not reverted": "#000000"}
    for name, rows in bars.items():
        if rows:
            inner = {} if name == "fault scheduled" else {"width": 0.2, "offset": 0.1}
            data.append({**bar, **inner, "name": name, "y": [r[0] for r in rows], "base": [ms(r[1]) for r in rows],
                         "x": [ms(r[2]) - ms(r[1]) for r in rows], "text": [r[3] for r in rows],
                         "textposition": "none", "marker": {"color": colours[name]}})
    layout = frame.layout({"type": "category", "categoryorder": "array", "categoryarray": lanes,
                           "autorange": "reversed", "rangemode": "normal", "zeroline": False,
                           "showticklabels": False, "showgrid": False},
                          height=110 + 48 * len(lanes))
    layout.update(barmode="overlay", hovermode="closest", shapes=[],
                  uniformtext={"mode": "hide", "minsize": 9},
                  annotations=[{"x": 0, "xref": "paper", "xanchor": "left", "y": lane, "yref": "y",
                                "yshift": 12, "yanchor": "middle", "text": label, "showarrow": False,
                                "font": {"size": 12}, "bgcolor": "rgba(255,255,255,0.85)"}
                               for lane, label in zip(lanes, labels, strict=True)])
    return Panel("timeline", "Timeline: phases and faults",
                 "Phases in time order (their colours shade every panel below); one lane per fault: "
                 "its scheduled window, and the span from applied to reverted.", data, layout)


def _bucket_name(frame: _Frame) -> str:
    return "second" if frame.bucket_s == 1 else f"{frame.bucket_s} s"


def _per(frame: _Frame) -> str:
    return f"per second (mean over {frame.bucket_s} s)" if frame.bucket_s > 1 else "per second"


def traffic_panels(points: Sequence[SecondPoint], xs: list[int], frame: _Frame) -> list[Panel]:
    per = _per(frame)
    return [
        Panel("throughput", "Requests per second and streams in flight", f"Requests started and ended {per}.",
              [_line("ended/s", xs, _rounded(p.ended / p.span_s for p in points)),
               _line("started/s", xs, _rounded(p.started / p.span_s for p in points)),
               _line("in flight (right axis)", xs, [p.in_flight for p in points], yaxis="y2",
                     line={"dash": "dot"})],
              frame.layout({"title": {"text": "requests/s"}}, y2={"title": {"text": "streams"}})),
        _outcomes(points, xs, frame, per),
        _rate_panel("complete", "Complete streams (% of requests ended)", points, xs, frame,
                    [("complete", lambda p: p.counts.get("2xx", 0), CLASS_COLOURS["2xx"])],
                    [("rate_2xx", CLASS_LABELS.get("2xx", "2xx"), LIMIT_COLOUR)]),
        _rate_panel("failures", "Server-side failures and 429 (% of requests ended)", points, xs, frame,
                    [("server-side failures", lambda p: server_failures(p.counts), CLASS_COLOURS["5xx"]),
                     ("429", lambda p: p.counts.get("429", 0), CLASS_COLOURS["429"])],
                    [("rate_5xx", "server failures", LIMIT_COLOUR), ("rate_429", "429", "#c26100")]),
    ]


def latency_panels(points: Sequence[SecondPoint], xs: list[int], frame: _Frame) -> list[Panel]:
    panels = []
    for key, label, attr in (("first_token", "first-token", "p95_first_token_ms"),
                             ("completion", "completion", "p95_completion_ms")):
        ys = [getattr(p, attr) for p in points]
        panels.append(Panel(
            f"p95_{key}", f"p95 {label} latency (ms)",
            f"p95 of the requests that ended in each {_bucket_name(frame)}; a criterion's p95 is over its whole phase.",
            [_line(f"p95 {label}", xs, _rounded(ys, 1)), *frame.limits(f"p95_{key}", f"p95 {label}")],
            frame.layout({"title": {"text": "ms"}})))
    return panels


def _outcomes(points: Sequence[SecondPoint], xs: list[int], frame: _Frame, per: str) -> Panel:
    data = []
    classes = list(STATUS_CLASSES) + sorted({k for p in points for k in p.counts} - set(STATUS_CLASSES))
    for cls in classes:
        ys = [p.counts.get(cls, 0) / p.span_s for p in points]
        trace = _line(CLASS_LABELS.get(cls, cls), xs, _rounded(ys), stackgroup="outcomes",
                      line={"color": class_colour(cls), "width": 0.5})
        if not any(ys):
            trace["visible"] = "legendonly"  # listed (greyed) so the reader sees the class was zero
        data.append(trace)
    return Panel("outcomes", "Outcomes of the requests ended (stacked)",
                 f"Every outcome class {per}; a greyed legend entry had no request.", data,
                 frame.layout({"title": {"text": "requests/s"}}))


def _rate_panel(key: str, title: str, points: Sequence[SecondPoint], xs: list[int], frame: _Frame,
                series: Sequence[tuple[str, Callable[[SecondPoint], int], str]],
                limits: Sequence[tuple[str, str, str]]) -> Panel:
    data = []
    for name, count, colour in series:
        ys = [count(p) / p.ended * 100 if p.ended else None for p in points]
        data.append(_line(name, xs, _rounded(ys), line={"color": colour}))
    for metric, label, colour in limits:
        data += frame.limits(metric, label, colour)
    return Panel(key, title, "Share of the requests that ended in each bucket; dashed: the phase's limit.",
                 data, frame.layout({"title": {"text": "%"}}))


def driver_panel(points: Sequence[SecondPoint], xs: list[int], frame: _Frame) -> Panel:
    saturated = [(x, p.loop_lag_p99_ms) for x, p in zip(xs, points, strict=True) if p.saturated]
    data = [_line("loop lag p99 (ms)", xs, _rounded((p.loop_lag_p99_ms for p in points), 1)),
            _line("CPU % of a core (right axis)", xs, _rounded((p.cpu_percent for p in points), 1),
                  yaxis="y2", line={"dash": "dot"})]
    if saturated:
        data.append({"type": "scatter", "mode": "markers", "name": "saturated", "x": [s[0] for s in saturated],
                     "y": [s[1] for s in saturated], "marker": {"color": LIMIT_COLOUR, "symbol": "x", "size": 8}})
    return Panel("driver", "Load driver", "The driver's own event-loop lag and CPU; in a saturated second "
                 "latencies are partly the driver's.", data,
                 frame.layout({"title": {"text": "ms"}}, y2={"title": {"text": "% CPU"}}))


def probe_panel(probes: Sequence[ProbeSecond], frame: _Frame) -> Panel | None:
    if not probes:
        return None
    bucket = max(10, frame.bucket_s)
    groups: dict[int, list[bool]] = {}
    for p in probes:
        if p.available is not None:
            groups.setdefault(math.floor(p.t / bucket) * bucket, []).append(p.available)
    keys = sorted(groups)
    down = [p for p in probes if p.available is False]
    shares = [round(100 * sum(groups[k]) / len(groups[k]), 2) for k in keys]
    # Steps over each bucket: a point at every bucket start, and one closing the last bucket.
    data = [_line(f"available (% of probe seconds per {bucket} s)", [ms(k) for k in [*keys, keys[-1] + bucket]]
                  if keys else [], [*shares, shares[-1]] if shares else [],
                  line={"shape": "hv", "color": CLASS_COLOURS["2xx"]})]
    if down:
        data.append({"type": "scatter", "mode": "markers", "name": "unavailable second",
                     "x": [ms(p.t) for p in down], "y": [0] * len(down), "text": [p.error or "" for p in down],
                     "marker": {"color": LIMIT_COLOUR, "symbol": "line-ns-open", "size": 10},
                     "hovertemplate": "%{text}<extra>unavailable</extra>"})
    data += frame.limits("availability", "availability")
    return Panel("availability", "Probe availability (%)",
                 "Health check and canary chat both succeeded; a gap is a second without a probe result.",
                 data, frame.layout({"title": {"text": "%"}, "range": [0, 101]}))


def _bucketed(samples: Sequence[Sample], metric: str, bucket_s: int) -> list[tuple[str, list[int], list[float | None]]]:
    """Each label set of `metric`, the largest value per bucket (None when all were gaps)."""
    out = []
    for s in sample_series(samples, metric):
        if bucket_s == 1:
            out.append((s.label_text, [ms(t) for t in s.t], list(s.values)))
            continue
        buckets: dict[int, float | None] = {}
        for t, v in zip(s.t, s.values, strict=True):
            k = math.floor(t / bucket_s) * bucket_s
            prev = buckets.get(k)
            buckets[k] = v if prev is None else (prev if v is None else max(prev, v))
        keys = sorted(buckets)
        out.append((s.label_text, [ms(k) for k in keys], [buckets[k] for k in keys]))
    return out


def sample_panels(evidence: Evidence, frame: _Frame) -> list[Panel]:
    rec = evidence.recording
    panels = []
    circuit = _bucketed(rec.samples, "circuit_state", frame.bucket_s)
    if circuit:
        panels.append(Panel("circuit", "Provider circuit state", "0 closed, 0.5 half-open, 1 open (largest per bucket).",
                            [_line(n, x, y, line={"shape": "hv"}) for n, x, y in circuit],
                            frame.layout({"range": [-0.05, 1.05], "tickvals": [0, 0.5, 1],
                                          "ticktext": ["closed", "half-open", "open"]})))
    queue = _bucketed(rec.samples, "queue_oldest_age_s", frame.bucket_s)
    if queue:
        data = [_line(n, x, y, line={"shape": "hv"}) for n, x, y in queue]
        data += [_line(f"limit: {c.id.split('@')[0]} {limit_text(c)}", [ms(frame.start), ms(frame.end)],
                       [c.threshold, c.threshold], line={"color": LIMIT_COLOUR, "dash": "dash", "width": 1.5})
                 for c in frame.criteria if "queue" in c.id and c.unit == "s" and c.threshold is not None]
        panels.append(Panel("queue", "Queue oldest-job age (s)", "Largest value per bucket.", data,
                            frame.layout({"title": {"text": "s"}})))
    regions = region_traces(evidence, frame)
    if regions:
        panels.append(Panel("regions", "Regions: requests served and the router's active region",
                            "Requests ended per second by the region header; right axis: active region (1 = active).",
                            regions, frame.layout({"title": {"text": "requests/s"}},
                                                  y2={"range": [-0.05, 1.6], "tickvals": [0, 1]})))
    return panels


def region_traces(evidence: Evidence, frame: _Frame) -> list[Json]:
    rec = evidence.recording
    by_bucket: dict[int, dict[str, int]] = {}
    for w in rec.windows:
        row = by_bucket.setdefault(math.floor(w.start / frame.bucket_s) * frame.bucket_s, {})
        for region, n in w.regions.items():
            row[region] = row.get(region, 0) + n
    names = sorted({r for row in by_bucket.values() for r in row})
    keys = sorted(by_bucket)
    xs = [ms(k + frame.bucket_s / 2) for k in keys]
    data = [_line(f"served by {r}", xs, _rounded(by_bucket[k].get(r, 0) / frame.bucket_s for k in keys),
                  stackgroup="regions") for r in names]
    for name, x, y in _bucketed(rec.samples, "active_region", frame.bucket_s):
        data.append(_line(f"active: {name}", x, y, yaxis="y2", line={"shape": "hv", "dash": "dot"}))
    return data


def build_panels(evidence: Evidence) -> list[Panel]:
    """Every panel with data, in reading order."""
    frame = _Frame(evidence)
    points = load_series(evidence.recording.windows, bucket_s=frame.bucket_s)
    xs = [ms(p.t + p.span_s / 2) for p in points]
    timeline = timeline_panel(evidence, frame)
    probes = probe_panel(evidence.recording.probes, frame)
    panels = [timeline] if timeline else []
    panels += traffic_panels(points, xs, frame) if points else []
    panels += [probes] if probes else []
    panels += latency_panels(points, xs, frame) if points else []
    panels += sample_panels(evidence, frame)
    panels += [driver_panel(points, xs, frame)] if points else []
    return panels
