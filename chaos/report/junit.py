"""`junit.xml`: a drill as a test suite CI reads right (docs/evidence.md, "JUnit").

Test cases: the overall verdict, each criterion, each fault's revert and the manifest check.
INCONCLUSIVE is a `<failure type="inconclusive">` unless the caller maps it to `<skipped>`:
Jenkins and GitLab show a skipped test green, and an undecided drill is not a green one.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from typing import Literal

from chaos.report.evidence import Evidence
from chaos.report.facts import run_facts
from chaos.report.lines import observations, verdict_counts
from chaos.report.manifest import ManifestCheck
from chaos.report.tables import fault_problem, fmt_comparison, fmt_time
from chaos.slo.verdict import Criterion, Verdict

InconclusiveAs = Literal["failure", "skipped"]
INCONCLUSIVE_CHOICES: tuple[InconclusiveAs, ...] = ("failure", "skipped")


def _seconds(value: float | None) -> str:
    return f"{max(0.0, value or 0.0):.3f}"


class _Suite:
    """Counts outcomes while test cases are added, so the totals always match the cases."""

    def __init__(self, name: str, classname: str, inconclusive: InconclusiveAs) -> None:
        self.element = ET.Element("testsuite", name=name)
        self.classname = classname
        self.inconclusive = inconclusive
        self.counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}

    def case(self, name: str, classname: str, seconds: float | None) -> ET.Element:
        self.counts["tests"] += 1
        return ET.SubElement(self.element, "testcase", classname=classname, name=name, time=_seconds(seconds))

    def outcome(self, case: ET.Element, verdict: Verdict, message: str, *, kind: str, detail: str = "") -> None:
        if verdict is Verdict.PASS:
            ET.SubElement(case, "system-out").text = message + (f"\n{detail}" if detail else "")
            return
        if verdict is Verdict.NOT_APPLICABLE:  # the run could not show it: neither pass nor fail
            self.counts["skipped"] += 1
            ET.SubElement(case, "skipped", message=f"n/a: {message}")
            return
        if verdict is Verdict.INCONCLUSIVE and self.inconclusive == "skipped":
            self.counts["skipped"] += 1
            ET.SubElement(case, "skipped", message=f"INCONCLUSIVE: {message}")
            return
        self.counts["failures"] += 1
        tag_type = "inconclusive" if verdict is Verdict.INCONCLUSIVE else kind
        ET.SubElement(case, "failure", message=f"{verdict.value}: {message}", type=tag_type).text = detail or None

    def error(self, case: ET.Element, message: str, kind: str) -> None:
        self.counts["errors"] += 1
        ET.SubElement(case, "error", message=message, type=kind)


def _criterion_message(c: Criterion, run_start: float) -> str:
    seen = observations(c, run_start)
    return f"{fmt_comparison(c)}{f' ({seen})' if seen else ''}: {c.reason}"


def render_junit(evidence: Evidence, *, inconclusive: InconclusiveAs = "failure",
                 manifest: ManifestCheck | None = None) -> str:
    """The suite for one run; `manifest` adds the bundle's integrity check as a test case."""
    if inconclusive not in INCONCLUSIVE_CHOICES:
        raise ValueError(f"inconclusive must be one of {INCONCLUSIVE_CHOICES}, got {inconclusive!r}")
    rec = evidence.recording
    facts = run_facts(evidence)
    base = f"chaos.{evidence.drill}"
    suite = _Suite(base, base, inconclusive)
    props = ET.SubElement(suite.element, "properties")
    for name, value in (
        ("run_id", evidence.run_id), ("drill", evidence.drill), ("verdict", evidence.verdict.value),
        ("state", evidence.state), ("tier", facts.tier), ("tier_streams", facts.tier_streams),
        ("gate", facts.gate), ("concurrency_driven", facts.concurrency_text()),
        ("peak_in_flight", facts.peak_in_flight), ("scaled_drill", str(facts.scaled).lower()),
        ("time_scale", f"{facts.time_scale:g}"), ("load_scale", f"{facts.load_scale:g}"),
        ("inconclusive_as", inconclusive),
    ):
        if value is not None:
            ET.SubElement(props, "property", name=name, value=str(value))

    overall = suite.case("verdict", base, facts.duration_s)
    summary = f"{verdict_counts(evidence.criteria)}; {facts.scope_text()}"
    note = facts.scaled_note()
    detail = "\n".join(
        [f"{c.verdict.value}  {c.id}  {_criterion_message(c, rec.started_at)}"
         for c in evidence.criteria if c.verdict is not Verdict.PASS] + ([note] if note else []))
    if not evidence.complete:
        suite.error(overall, f"run did not finish ({rec.aborted or evidence.state}): {summary}", "incomplete")
    else:
        suite.outcome(overall, evidence.verdict, summary, kind="verdict", detail=detail)

    for c in evidence.criteria:
        span = None if c.window_start is None or c.window_end is None else c.window_end - c.window_start
        case = suite.case(c.id, f"{base}.{c.scope or 'run'}", span)
        suite.outcome(case, c.verdict, _criterion_message(c, rec.started_at), kind="SLO")

    for f in rec.faults:
        span = None if f.applied_at is None or f.reverted_at is None else f.reverted_at - f.applied_at
        case = suite.case(f"fault {f.id} reverted", f"{base}.faults", span)
        problem = fault_problem(f)
        if problem is None:
            suite.outcome(case, Verdict.PASS, f"{f.scenario} on {f.target}: applied "
                          f"{fmt_time(f.applied_at)}, reverted {fmt_time(f.reverted_at)} UTC", kind="revert")
        else:
            suite.outcome(case, Verdict.FAIL, f"{f.scenario} on {f.target}: {problem}", kind="revert")

    if manifest is not None:
        case = suite.case("manifest", f"{base}.bundle", manifest.seconds)
        suite.outcome(case, Verdict.PASS if manifest.ok else Verdict.FAIL,
                      manifest.line() + (" (junit.xml is sealed after this check)" if manifest.ok else ""),
                      kind="manifest")

    for key, value in suite.counts.items():
        suite.element.set(key, str(value))
    suite.element.set("time", _seconds(facts.duration_s))
    suite.element.set("timestamp", fmt_timestamp(rec.started_at))
    root = ET.Element("testsuites", {"name": "chaos", "time": _seconds(facts.duration_s),
                                     **{k: str(v) for k, v in suite.counts.items()}})
    root.append(suite.element)
    ET.indent(root)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def fmt_timestamp(t: float) -> str:
    return datetime.fromtimestamp(t, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S")
