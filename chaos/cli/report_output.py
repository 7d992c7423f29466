"""What `chaos run` and `chaos report` print at the end: rich tables on a terminal, one plain
line per criterion otherwise (never wrapped; COLUMNS only shortens reasons), or the criteria
as JSON for machines. Every form renders the one evidence (chaos.report.lines)."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from chaos.errors import ExitCode

if TYPE_CHECKING:
    from chaos.report.evidence import Evidence
    from chaos.report.manifest import ManifestCheck
    from chaos.run.options import RunResult
    from chaos.run.rejudge import Rejudged

OutputFormat = Literal["auto", "table", "plain", "json"]
# chaos.report.junit.InconclusiveAs, spelled here so `chaos --help` need not import the report package.
InconclusiveAs = Literal["failure", "skipped"]
VERDICT_STYLE = {"PASS": "green", "FAIL": "bold red", "INCONCLUSIVE": "yellow", "n/a": "dim"}

FORMAT_HELP = ("auto: tables on a terminal, plain lines otherwise (CI logs); plain: one line per "
               "criterion, never wrapped (COLUMNS only shortens reasons); json: the verdict and "
               "the criteria as evidence.json holds them.")
JUNIT_HELP = ("How junit.xml reports an INCONCLUSIVE verdict: failure (default; CI shows it red) "
              "or skipped (CI shows it green).")


def columns() -> int | None:
    """COLUMNS when set to a usable width; None means no limit (a log is as wide as a line)."""
    try:
        value = int(os.environ.get("COLUMNS", ""))
    except ValueError:
        return None
    return value if value >= 20 else None


def resolve_format(fmt: str) -> str:
    if fmt == "auto":
        return "table" if sys.stdout.isatty() else "plain"
    return fmt


def criteria_table(evidence: Evidence) -> Table:
    from chaos.report.tables import fmt_comparison

    verdict = evidence.verdict.value
    table = Table(title=f"{evidence.drill}: {verdict}", title_style=VERDICT_STYLE.get(verdict, ""))
    for col in ("criterion", "verdict", "measured", "reason"):
        table.add_column(col, overflow="fold")
    for c in evidence.criteria:
        style = VERDICT_STYLE.get(c.verdict.value, "")
        table.add_row(escape(c.id), f"[{style}]{c.verdict.value}[/]" if style else c.verdict.value,
                      escape(fmt_comparison(c)), escape(c.reason))
    return table


def show_evidence(evidence: Evidence, *, exit_code: int, fmt: str, manifest: ManifestCheck | None,
                  bundle: Path | None, notes: Sequence[str] = (), console: Console | None = None) -> None:
    """Print the verdicts of `evidence` in the chosen format (see FORMAT_HELP)."""
    from chaos.report.lines import criteria_document, exit_line, plain_report, totals_lines

    fmt = resolve_format(fmt)
    if fmt == "json":
        doc = criteria_document(evidence, exit_code=exit_code, manifest=manifest, bundle=bundle)
        typer.echo(json.dumps({**doc, "notes": list(notes)}, indent=1))
        return
    if fmt == "plain":
        lines = plain_report(evidence, exit_code=exit_code, manifest=manifest, bundle=bundle,
                             columns=columns())
        for line in [*lines[:-1], *notes, lines[-1]]:
            typer.echo(line)
        return
    out = console or Console()
    out.print(criteria_table(evidence))
    tail = [*totals_lines(evidence), *([manifest.line()] if manifest else []),
            *([f"evidence: {bundle}"] if bundle else []), *notes]
    for line in tail:
        out.print(escape(line), highlight=False, soft_wrap=True)
    style = VERDICT_STYLE.get(evidence.verdict.value, "")
    out.print(f"[{style}]{escape(exit_line(evidence.verdict.value, exit_code, state=evidence.state))}[/]"
              if style else escape(exit_line(evidence.verdict.value, exit_code, state=evidence.state)),
              highlight=False, soft_wrap=True)


def show_run(result: RunResult, *, fmt: str, junit_inconclusive: InconclusiveAs) -> int:
    """The end of `chaos run`: the sealed bundle's verdicts; returns the exit code."""
    from chaos.report.manifest import ManifestError, check_manifest
    from chaos.report.reader import read_evidence
    from chaos.report.render import rewrite_junit

    assert result.bundle is not None
    check = check_manifest(result.bundle)
    if not check.ok:
        raise ManifestError(f"{result.bundle}: {check.line()}")
    evidence = read_evidence(result.bundle, verify=False)  # just checked
    if junit_inconclusive != "failure":
        check = rewrite_junit(result.bundle, evidence, inconclusive=junit_inconclusive)
    notes = [] if result.state == "complete" else [f"run {result.state}: {result.reason}"]
    show_evidence(evidence, exit_code=int(result.exit_code), fmt=fmt, manifest=check,
                  bundle=result.bundle, notes=notes)
    return int(result.exit_code)


def show_report(result: Rejudged, *, bundle: Path, tier: str | None, fmt: str,
                junit_inconclusive: InconclusiveAs, console: Console | None = None) -> int:
    """The end of `chaos report` on a drill bundle: its manifest, the re-judged verdicts, how
    they compare with the run's; returns the exit code."""
    from chaos.report.manifest import ManifestCheck, read_manifest
    from chaos.report.render import rewrite_junit

    notes = []
    manifest = None
    if result.original is None:
        notes.append(f"incomplete bundle ({result.evidence.state}): no manifest; sealed as incomplete, "
                     "never a pass")
    else:
        # rejudge_bundle read the evidence only after every file matched the manifest.
        manifest = ManifestCheck(len(read_manifest(bundle)), (), 0.0)
        if tier is None:
            diffs = result.differences()
            notes.append("same verdicts as the run" if not diffs else
                         "differs from the run: " + "; ".join(diffs))
    if result.written_to is not None:
        if junit_inconclusive != "failure":
            rewrite_junit(result.written_to, result.evidence, inconclusive=junit_inconclusive)
        notes.append(f"written: {result.written_to}")
    code = {"PASS": ExitCode.PASS, "FAIL": ExitCode.FAIL}.get(result.evidence.verdict.value,
                                                             ExitCode.INCONCLUSIVE)
    show_evidence(result.evidence, exit_code=int(code), fmt=fmt, manifest=manifest, bundle=bundle,
                  notes=notes, console=console)
    return int(code)
