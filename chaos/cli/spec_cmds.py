"""`chaos validate`, `chaos schema`, `chaos plan`: spec checks, JSON Schema, timeline and preflight."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, Literal

import typer

from chaos.errors import ChaosError, ExitCode, SpecError, SpecIssue

SCHEMA_FILES = ("drill.schema.json", "environment.schema.json")
_ENV_KEYS = frozenset({"target", "topology", "toxiproxy", "runtime", "services", "guardrails"})
_DRILL_KEYS = frozenset({"load", "faults", "duration", "tier", "steady_state", "abort"})


def register(app: typer.Typer) -> None:
    """Add this group's commands to the app."""
    app.command("validate")(validate)
    app.command("schema")(schema)
    app.command("plan")(plan)


def detect_kind(path: str) -> Literal["drill", "environment", "release"]:
    """Tell a drill from an environment by its top-level keys (SpecError if neither)."""
    from chaos.spec.loader import load_document

    document = load_document(path)
    keys = set(document.data) if isinstance(document.data, dict) else set()
    if isinstance(document.data, dict) and document.data.get("kind") == "release":
        return "release"
    env_score, drill_score = len(keys & _ENV_KEYS), len(keys & _DRILL_KEYS)
    if env_score == drill_score == 0:
        raise SpecError(SpecIssue(path, 1, 1, "", "not a drill (no 'load'/'faults') nor an "
                                  "environment (no 'target'/'topology')"))
    return "environment" if env_score > drill_score else "drill"


def _print_issues(exc: SpecError) -> None:
    for issue in exc.issues:
        typer.echo(str(issue))


def _name(text: str) -> str:
    """A name from a file as an `ok` line shows it: one line, clipped."""
    from chaos.spec.text import clip, printable

    return clip(printable(text))


def _fail(exc: ChaosError) -> typer.Exit:
    """One line on stderr (a flag or directory problem), and the error's exit code."""
    typer.echo(f"error: {exc}", err=True)
    return typer.Exit(int(exc.exit_code))


def validate(
    files: Annotated[list[Path], typer.Argument(help="Drill and environment YAML files.")],
    env: Annotated[Path | None, typer.Option("--env", help="Also check drills against this environment.")] = None,
    allow_production: Annotated[bool, typer.Option("--allow-production", help="Accept kind: production.")] = False,
) -> None:
    """Check drill and environment files (schema and semantics, no traffic); one line per issue."""
    from chaos.spec import (
        check_drill_against_environment,
        check_environment_variables,
        load_drill,
        load_environment,
    )

    environment = None
    failed = False
    if env is not None:
        try:
            environment = load_environment(env, allow_production=allow_production)
            check_environment_variables(environment, env_path=env)
        except SpecError as exc:
            _print_issues(exc)
            raise typer.Exit(ExitCode.USAGE) from None
    for path in files:
        try:
            kind = detect_kind(str(path))
            if kind == "release":
                from chaos.release.config import load_checklist

                checklist = load_checklist(path)
                typer.echo(f"ok {path}: release checklist '{_name(checklist.name)}'")
                continue
            if kind == "environment":
                loaded_env = load_environment(path, allow_production=allow_production)
                typer.echo(f"ok {path}: environment '{_name(loaded_env.name)}' ({loaded_env.kind})")
                continue
            drill = load_drill(path)
            if environment is not None and env is not None:
                check_drill_against_environment(drill, environment, drill_path=path, env_path=env)
            against = f" against {env}" if env is not None else ""
            typer.echo(f"ok {path}: drill '{_name(drill.name)}' ({len(drill.faults)} faults){against}")
        except SpecError as exc:
            _print_issues(exc)
            failed = True
    if failed:
        raise typer.Exit(ExitCode.USAGE)


def schema_documents() -> dict[str, dict[str, Any]]:
    from chaos.spec import drill_json_schema, environment_json_schema

    return {SCHEMA_FILES[0]: drill_json_schema(), SCHEMA_FILES[1]: environment_json_schema()}


def schema_text(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, sort_keys=True) + "\n"


def schema(
    out: Annotated[Path | None, typer.Option("--out", help="Write drill.schema.json and environment.schema.json here.")] = None,
) -> None:
    """Print (or write) the JSON Schema of drill and environment files."""
    from chaos.cli.flags import check_writable_dir

    documents = schema_documents()
    if out is None:
        typer.echo(schema_text(documents).rstrip("\n"))
        return
    try:
        check_writable_dir("--out", out, exit_code=ExitCode.USAGE)
    except ChaosError as exc:
        raise _fail(exc) from None
    for name, document in documents.items():
        (out / name).write_text(schema_text(document), encoding="utf-8")
        typer.echo(f"wrote {out / name}")


def plan(
    drill_path: Annotated[Path, typer.Argument(metavar="DRILL", help="The drill YAML file.")],
    env: Annotated[Path, typer.Option("--env", help="The environment YAML file.")],
    time_scale: Annotated[float, typer.Option("--time-scale", help="Multiply every duration (compressed smoke drills), 0.001 to 1000.")] = 1.0,
    no_preflight: Annotated[bool, typer.Option("--no-preflight", help="Only print the timeline.")] = False,
    allow_production: Annotated[bool, typer.Option("--allow-production", help="Accept kind: production.")] = False,
) -> None:
    """Print the drill's timeline, fault windows and primitives, then run preflight checks."""
    import anyio

    from chaos.cli.flags import check_scale
    from chaos.cli.plan_view import render_plan
    from chaos.spec import (
        build_timeline,
        check_drill_against_environment,
        load_drill,
        load_environment,
    )

    try:
        check_scale("--time-scale", time_scale)
    except ChaosError as exc:
        raise _fail(exc) from None
    try:
        environment = load_environment(env, allow_production=allow_production)
        drill = load_drill(drill_path)
        check_drill_against_environment(drill, environment, drill_path=drill_path, env_path=env)
    except SpecError as exc:
        _print_issues(exc)
        raise typer.Exit(ExitCode.USAGE) from None
    render_plan(drill, environment, build_timeline(drill, time_scale))
    if no_preflight:
        return
    from chaos.run.preflight import run_preflight

    report = anyio.run(run_preflight, drill, environment)
    typer.echo("preflight:")
    for check in report.checks:
        typer.echo(f"  {check}")
    if not report.ok:
        raise typer.Exit(ExitCode.INFRASTRUCTURE)
