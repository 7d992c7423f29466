"""`junit.xml`: one test case per criterion, so CI shows a drill like a test suite."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from chaos.report.evidence import Evidence
from chaos.report.tables import fmt_number
from chaos.slo.verdict import Verdict


def render_junit(evidence: Evidence) -> str:
    rec = evidence.recording
    criteria = evidence.criteria
    suite = ET.Element(
        "testsuite",
        name=f"chaos.{evidence.drill}",
        tests=str(len(criteria) + (0 if evidence.complete else 1)),
        failures=str(sum(1 for c in criteria if c.verdict is Verdict.FAIL)),
        skipped=str(sum(1 for c in criteria if c.verdict is Verdict.INCONCLUSIVE)),
        errors="0" if evidence.complete else "1",
        time=f"{max(0.0, rec.ended_at - rec.started_at):.3f}",
    )
    props = ET.SubElement(suite, "properties")
    for name, value in (
        ("run_id", evidence.run_id),
        ("verdict", evidence.verdict.value),
        ("state", evidence.state),
        ("time_scale", f"{rec.time_scale:g}"),
        ("load_scale", f"{rec.load_scale:g}"),
    ):
        ET.SubElement(props, "property", name=name, value=value)
    for c in criteria:
        case = ET.SubElement(suite, "testcase", classname=f"{evidence.drill}.{c.scope}", name=c.id, time="0")
        text = (
            f"measured {fmt_number(c.measured, c.unit)}, threshold {c.comparison} "
            f"{fmt_number(c.threshold, c.unit)}: {c.reason}"
        )
        if c.verdict is Verdict.FAIL:
            ET.SubElement(case, "failure", message=text, type="SLO")
        elif c.verdict is Verdict.INCONCLUSIVE:
            ET.SubElement(case, "skipped", message=f"INCONCLUSIVE: {text}")
        else:
            ET.SubElement(case, "system-out").text = text
    if not evidence.complete:
        case = ET.SubElement(suite, "testcase", classname=f"{evidence.drill}.run", name="run.complete", time="0")
        ET.SubElement(case, "error", message=f"run did not finish: {rec.aborted or evidence.state}", type="incomplete")
    ET.indent(suite)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(suite, encoding="unicode") + "\n"
