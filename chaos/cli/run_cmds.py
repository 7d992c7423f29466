"""`chaos run`, `chaos report`, `chaos compare`: run a drill, re-judge a bundle, diff two runs."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from chaos.cli.report_output import (
    FORMAT_HELP,
    JUNIT_HELP,
    InconclusiveAs,
    OutputFormat,
    show_report,
    show_run,
)
from chaos.errors import ChaosError, ExitCode, SpecError, StillApplied, one_line

if TYPE_CHECKING:
    from chaos.run.options import RunResult


def register(app: typer.Typer) -> None:
    """Add this group's commands to the app."""
    app.command("run")(run)
    app.command("report")(report)
    app.command("compare")(compare)


def _fail(console: Console, exc: ChaosError) -> typer.Exit:
    from rich.markup import escape

    console.print(f"[red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
    return typer.Exit(int(exc.exit_code))


def run(
    drill_path: Annotated[Path, typer.Argument(metavar="DRILL", help="Drill YAML file.")],
    env: Annotated[Path, typer.Option("--env", help="Environment YAML file.")],
    time_scale: Annotated[float, typer.Option("--time-scale", help="Compress every duration by this factor (0.1 = 10x shorter).")] = 1.0,
    max_driver_lag_ms: Annotated[float | None, typer.Option("--max-driver-lag-ms", help="Driver loop-lag p99 above which a window counts as saturated.")] = None,
    load_scale: Annotated[float, typer.Option("--load-scale", help="Scale stream counts and arrival rates.")] = 1.0,
    evidence_dir: Annotated[Path, typer.Option("--evidence-dir", help="Where bundles go.")] = Path("runs"),
    tier: Annotated[str | None, typer.Option("--tier", help="Judge against this tier instead of the drill's.")] = None,
    workers: Annotated[int | None, typer.Option("--workers", help="Load worker processes (default: the drill's / auto).")] = None,
    allow_production: Annotated[bool, typer.Option("--allow-production", help="Accept kind: production.")] = False,
    live: Annotated[bool, typer.Option("--live/--no-live", help="Show the live view.")] = True,
    no_preflight: Annotated[bool, typer.Option("--no-preflight", help="Skip the preflight checks.")] = False,
    fmt: Annotated[OutputFormat, typer.Option("--format", help=FORMAT_HELP)] = "auto",
    junit_inconclusive: Annotated[InconclusiveAs, typer.Option("--junit-inconclusive", help=JUNIT_HELP)] = "failure",
    hold_all: Annotated[bool, typer.Option("--hold-all", help="Hold before every fault until `chaos resume` (or Enter).")] = False,
    hold_timeout: Annotated[str, typer.Option("--hold-timeout", help="A hold not resumed within this aborts the drill.")] = "10m",
) -> None:
    """Run a drill: real load, real faults, every fault reverted; ends with the verdicts and the bundle path."""
    from chaos.cli import flags
    from chaos.run.entry import run_drill_sync
    from chaos.run.options import RunOptions
    from chaos.spec import check_drill_against_environment, load_drill, load_environment

    console = Console(stderr=True)
    try:
        flags.check_scale("--time-scale", time_scale)
        flags.check_scale("--load-scale", load_scale)
        tier = flags.check_tier(tier)
        flags.check_workers(workers)
        if max_driver_lag_ms is not None:
            flags.check_range("--max-driver-lag-ms", max_driver_lag_ms, *flags.DRIVER_LAG_RANGE_MS)
    except ChaosError as exc:
        raise _fail(console, exc) from None
    try:
        drill = load_drill(drill_path)
        environment = load_environment(env, allow_production=allow_production)
        check_drill_against_environment(drill, environment, drill_path=drill_path, env_path=env)
        options = RunOptions(time_scale=time_scale, load_scale=load_scale, evidence_dir=evidence_dir,
                             allow_production=allow_production, live=live, no_preflight=no_preflight,
                             drill_path=drill_path, env_path=env, tier=tier, workers=workers,
                             max_driver_lag_ms=max_driver_lag_ms, hold_all=hold_all,
                             hold_timeout_s=_hold_timeout_s(hold_timeout))
    except SpecError as exc:
        from rich.markup import escape

        for issue in exc.issues:
            console.print(escape(str(issue)), highlight=False, soft_wrap=True)
        raise typer.Exit(int(ExitCode.USAGE)) from None
    except ValueError as exc:
        console.print(f"[red]error:[/] {exc}")
        raise typer.Exit(int(ExitCode.USAGE)) from None
    try:
        flags.check_writable_dir("--evidence-dir", evidence_dir, exit_code=ExitCode.INFRASTRUCTURE)
        result = run_drill_sync(drill, environment, options, handle_signals=True, console=console)
    except ChaosError as exc:
        raise _fail(console, exc) from None
    raise typer.Exit(finish_run(result, fmt=fmt, junit_inconclusive=junit_inconclusive))


def _hold_timeout_s(text: str) -> float:
    from chaos.spec.units import parse_duration

    try:
        seconds = parse_duration(text).total_seconds()
    except (ValueError, TypeError) as exc:
        raise ValueError(f"--hold-timeout: {exc}") from None
    if seconds <= 0:
        raise ValueError(f"--hold-timeout must be longer than 0s, got {text}")
    return seconds


def finish_run(result: RunResult, *, fmt: OutputFormat, junit_inconclusive: InconclusiveAs) -> int:
    """The end of `chaos run`: the verdicts of a sealed bundle; for a run that ended on an
    infrastructure failure, one `error:` line, every fault action still applied and the
    command that finishes them. Returns the exit code."""
    from chaos.report.manifest import MANIFEST_NAME

    if result.bundle is None:
        typer.echo(f"error: {result.state}: {one_line(result.reason)}", err=True)
        return int(result.exit_code)
    code = int(result.exit_code)
    if (result.bundle / "evidence.json").is_file() and (result.bundle / MANIFEST_NAME).is_file():
        try:
            code = show_run(result, fmt=fmt, junit_inconclusive=junit_inconclusive)
        except ChaosError as exc:
            typer.echo(f"error: {one_line(str(exc))}", err=True)
            code = int(ExitCode.INFRASTRUCTURE)
    else:
        typer.echo(f"evidence: {result.bundle} (not sealed: `chaos report {result.bundle}` "
                   "judges the recording once the directory takes files again)", err=True)
    if code == ExitCode.INFRASTRUCTURE and result.state != "preflight_failed":
        for line in failure_block(result):
            typer.echo(line, err=True)
    return code


def failure_block(result: RunResult) -> list[str]:
    """`error: run <state>: <reason>`, then each fault action still applied and the command
    that finishes the job (from the bundle's `revert_failed` event)."""
    from chaos.report.reader import read_inputs_and_events

    assert result.bundle is not None
    lines = [f"error: run {result.state}: {one_line(result.reason)}"]
    if result.state == "revert_failed":
        _, events = read_inputs_and_events(result.bundle)
        event = next((e for e in reversed(events) if e.get("kind") == "revert_failed"), None)
        actions = event.get("actions") if event else None
        if isinstance(actions, list) and actions:
            lines.append(f"still applied ({len(actions)} fault action(s)): fault, primitive, target")
            lines += ["  " + StillApplied(str(a.get("fault_id")), str(a.get("primitive")),
                                          str(a.get("target")),
                                          verified=a.get("verified") is not False).line()
                      for a in actions if isinstance(a, dict)]
        command = event.get("cleanup") if event else None
        lines.append(f"finish the job once the component is back: "
                     f"{command or 'chaos cleanup --run ' + shlex.quote(str(result.bundle))}")
    debug_log = result.bundle / "debug.log"
    if debug_log.is_file() and debug_log.stat().st_size:
        lines.append(f"details: {debug_log}")
    return lines


def report(
    bundle: Annotated[Path, typer.Argument(metavar="DIR", help="An evidence bundle directory.")],
    tier: Annotated[str | None, typer.Option("--tier", help="Re-judge against this tier.")] = None,
    out: Annotated[Path | None, typer.Option("--out", help="Write the re-rendered bundle here.")] = None,
    fmt: Annotated[OutputFormat, typer.Option("--format", help=FORMAT_HELP)] = "auto",
    junit_inconclusive: Annotated[InconclusiveAs, typer.Option("--junit-inconclusive", help=JUNIT_HELP)] = "failure",
) -> None:
    """Verify a bundle's manifest, re-evaluate its recording and print the verdicts
    (a `chaos release` bundle: re-render its files from the stored evidence).

    Prints `manifest OK (N files)`, or names each file that does not match its manifest
    and exits 4: a bundle that fails its manifest cannot be trusted."""
    from chaos.cli import flags
    from chaos.report.reader import bundle_kind
    from chaos.run.rejudge import rejudge_bundle

    console = Console()
    try:
        tier = flags.check_tier(tier)
        if out is not None:
            flags.check_writable_dir("--out", out, exit_code=ExitCode.USAGE)
        if bundle_kind(bundle) == "release":
            from chaos.cli.release_cmds import report_release

            report_release(bundle, tier=tier, out=out)
        result = rejudge_bundle(bundle, tier=tier, out=out)
    except ChaosError as exc:
        raise _fail(Console(stderr=True), exc) from None
    raise typer.Exit(show_report(result, bundle=bundle, tier=tier, fmt=fmt,
                                 junit_inconclusive=junit_inconclusive, console=console))


def compare(
    before: Annotated[Path, typer.Argument(metavar="DIR", help="The earlier bundle.")],
    after: Annotated[Path, typer.Argument(metavar="DIR", help="The later bundle.")],
    all_criteria: Annotated[bool, typer.Option("--all", help="Show unchanged criteria too.")] = False,
) -> None:
    """Show what changed between two runs: verdicts, measurements, load and failover timings."""
    from chaos.report.compare import COMPARE_HEADER, compare_evidence
    from chaos.report.reader import read_evidence

    console = Console()
    try:
        cmp = compare_evidence(read_evidence(before), read_evidence(after))
    except ChaosError as exc:
        raise _fail(Console(stderr=True), exc) from None
    console.print(f"overall: {cmp.before.verdict.value} -> {cmp.after.verdict.value}"
                  + ("  (changed)" if cmp.verdict_changed else ""))
    table = Table(title="criteria" + ("" if all_criteria else " (changed verdicts)"))
    for col in COMPARE_HEADER:
        table.add_column(col, overflow="fold")
    for row in cmp.rows(only_changed=not all_criteria):
        table.add_row(*row)
    console.print(table)
    load = Table(title="load")
    for col in ("measure", "before", "after"):
        load.add_column(col)
    for name, (a, b) in cmp.load.items():
        load.add_row(name, f"{a:,}", f"{b:,}")
    console.print(load)
    if cmp.failover:
        fo = Table(title="failover")
        for col in ("fault", "before", "after"):
            fo.add_column(col, overflow="fold")
        for name, (a, b) in cmp.failover.items():
            fo.add_row(name, str(a), str(b))
        console.print(fo)
