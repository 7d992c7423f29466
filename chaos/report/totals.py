"""One reconciled set of request totals for every view: the evaluator's run totals, its phases
in time order, and failures by outcome class, error code and transport kind.

Every figure comes from the evaluator's `Report` stored in the evidence (`report.load`,
`report.phases`); nothing here re-counts windows, so summary.md, report.html and the CLI
lines cannot disagree. Counting rule (chaos/recording.py): a request is booked in the window
holding the instant of its outcome; windows end at every second and every phase boundary,
so each window lies in one phase.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from chaos.recording import CLASS_LABELS, SERVER_FAILURE_CLASSES, STATUS_CLASSES
from chaos.report.evidence import Evidence
from chaos.report.series import load_totals

COUNTING_RULE = (
    "Requests are booked by the instant of their outcome (completed or failed); windows end "
    "at every second and at every phase boundary, so none straddles two phases; requests "
    "still in flight when the load stopped are cancelled, never failures."
)


def class_label(status_class: str) -> str:
    """How an outcome class is shown: `2xx` is a complete stream."""
    return CLASS_LABELS.get(status_class, status_class)


def class_role(status_class: str) -> str:
    """What an outcome class counts as in the rate criteria."""
    if status_class == "2xx":
        return "success (complete stream)"
    if status_class == "429":
        return "load shedding"
    if status_class in SERVER_FAILURE_CLASSES:
        return "server-side failure"
    if status_class == "4xx":
        return "client error"
    return "other"


@dataclass(frozen=True, slots=True)
class PhaseRow:
    """One phase of the timeline with what the evaluator counted in it."""

    name: str
    kind: str
    tier: str | None  # None: not judged on SLOs (ramps)
    start: float
    end: float
    requests: int | None  # requests that ended in the phase; None when it was not judged
    verdict: str | None


@dataclass(frozen=True, slots=True)
class ClassCount:
    status_class: str
    requests: int
    share: float | None  # of all ended requests
    server_failure: bool

    @property
    def label(self) -> str:
        return class_label(self.status_class)

    @property
    def role(self) -> str:
        return class_role(self.status_class)


@dataclass(frozen=True, slots=True)
class RunTotals:
    started: int
    ended: int
    cancelled: int
    in_flight_at_end: int | None  # None: the evidence does not say (older or release bundles)
    late: int
    dropped: int
    reconciled: bool | None  # started == ended + cancelled + in flight at the end
    unaccounted: int | None
    classes: tuple[ClassCount, ...]  # STATUS_CLASSES order, every class (zeros included)
    error_codes: tuple[tuple[str, int], ...]  # most frequent first
    class_codes: tuple[tuple[str, str, int], ...]  # (outcome class, code, requests), most frequent first
    transport: tuple[tuple[str, int], ...]
    phases: tuple[PhaseRow, ...]  # time order
    judged: int | None  # requests that ended inside the judged phases (the `run` scope)

    @property
    def outside_judged(self) -> int | None:
        """Requests that ended outside every judged phase (ramp-up and ramp-down)."""
        return None if self.judged is None else self.ended - self.judged

    @property
    def server_failures(self) -> int:
        return sum(c.requests for c in self.classes if c.server_failure)

    def count(self, status_class: str) -> int:
        return next((c.requests for c in self.classes if c.status_class == status_class), 0)


def _sorted_counts(values: Mapping[str, Any]) -> tuple[tuple[str, int], ...]:
    items = [(str(k), int(v)) for k, v in values.items() if int(v)]
    return tuple(sorted(items, key=lambda kv: (-kv[1], kv[0])))


def _class_code(key: str, n: int) -> tuple[str, str, int]:
    """`broken:overloaded_error` -> ("broken", "overloaded_error", n)."""
    cls, _, code = key.partition(":")
    return cls, code, n


def run_totals(evidence: Evidence) -> RunTotals:
    rec = evidence.recording
    report = evidence.report if isinstance(evidence.report, Mapping) else {}
    load = report.get("load")
    if isinstance(load, Mapping) and "ended" in load:
        started, ended = int(load["started"]), int(load["ended"])
        counts: Mapping[str, Any] = load.get("counts", {})
        codes: Mapping[str, Any] = load.get("error_codes", {})
        by_class: Mapping[str, Any] = load.get("class_codes", {})
        transport: Mapping[str, Any] = load.get("transport", {})
        cancelled, late, dropped = int(load["cancelled"]), int(load["late"]), int(load["dropped"])
        in_flight_now = int(load["in_flight_at_end"])
        in_flight: int | None = in_flight_now
        unaccounted: int | None = started - ended - cancelled - in_flight_now
    else:  # a bundle without the evaluator's totals (release bundles): the recording's own
        t = load_totals(rec)
        started, ended, counts, codes, transport = t.started, t.requests, t.counts, t.error_codes, {}
        by_class = {}
        cancelled, late, dropped, in_flight, unaccounted = t.cancelled, t.late, t.dropped, None, None
    classes = tuple(
        ClassCount(cls, int(counts.get(cls, 0)), int(counts.get(cls, 0)) / ended if ended else None,
                   cls in SERVER_FAILURE_CLASSES)
        for cls in (*STATUS_CLASSES, *(k for k in counts if k not in STATUS_CLASSES))
    )
    summaries = {str(p["scope"]): p for p in report.get("phases", ()) if isinstance(p, Mapping)}
    rows = [
        PhaseRow(p.name, p.kind, summaries[p.name]["tier"] if p.name in summaries else None,
                 p.start, p.end,
                 int(summaries[p.name]["requests"]) if p.name in summaries else None,
                 str(summaries[p.name]["verdict"]) if p.name in summaries else None)
        for p in rec.phases if p.kind != "whole"
    ]
    rows.sort(key=lambda r: (r.start, r.end))
    run_scope = summaries.get("run")
    return RunTotals(
        started=started, ended=ended, cancelled=cancelled, in_flight_at_end=in_flight, late=late,
        dropped=dropped, reconciled=None if unaccounted is None else unaccounted == 0,
        unaccounted=unaccounted, classes=classes, error_codes=_sorted_counts(codes),
        transport=_sorted_counts(transport), phases=tuple(rows),
        class_codes=tuple(_class_code(k, v) for k, v in _sorted_counts(by_class)),
        judged=int(run_scope["requests"]) if run_scope is not None else None,
    )
