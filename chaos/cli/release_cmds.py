"""`chaos release`: the Phase 16 release-ready checklist against an environment, with a verdict on promotion."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer

from chaos.errors import ChaosError, ExitCode, SpecError

if TYPE_CHECKING:  # imported where used: `chaos --help` loads no release code
    from chaos.release.checklist import ReleaseResult


def register(app: typer.Typer) -> None:
    """Add this group's commands to the app."""
    app.command("release")(release)


def release(
    env: Annotated[Path, typer.Option("--env", help="Environment YAML (target, logs, release.class_b_drills).")],
    change_class: Annotated[str, typer.Option("--change-class", help="Upgrade class: A (smokes), B (smokes + class B drills), C (forbidden: refused).")] = "A",
    checklist: Annotated[Path | None, typer.Option("--checklist", help="Release checklist YAML (kind: release); default: the built-in Phase 16 checklist, as in experiments/release.yaml.")] = None,
    burst: Annotated[int | None, typer.Option("--burst", min=1, help="Concurrent requests of the burst (overrides the checklist).")] = None,
    time_scale: Annotated[float, typer.Option("--time-scale", min=0.0001, help="Compression of the class B drills (smoke scale).")] = 0.25,
    evidence_dir: Annotated[Path, typer.Option("--evidence-dir", help="Where the evidence bundle goes.")] = Path("runs"),
    allow_production: Annotated[bool, typer.Option("--allow-production", help="Accept an environment of kind: production.")] = False,
) -> None:
    """Run the release checklist; exit 0 when promotion may proceed, 1 when a criterion fails,
    2 for usage errors and class C, 3 when inconclusive, 4 when the target is unreachable."""
    import anyio

    from chaos.release.checklist import ChangeClass, refuse_class, target_of
    from chaos.release.config import Checklist, load_checklist
    from chaos.release.drills import class_b_drill_paths, drill_runner
    from chaos.release.evidence import release_evidence, write_release_bundle
    from chaos.spec.loader import load_environment

    try:
        try:
            klass = ChangeClass(change_class.upper())
        except ValueError:
            raise typer.BadParameter(f"{change_class!r} is not A, B or C", param_hint="--change-class") from None
        refuse_class(klass)
        environment = load_environment(env, allow_production=allow_production)
        spec = load_checklist(checklist) if checklist is not None else Checklist()
        drills = class_b_drill_paths(environment, env) if klass is ChangeClass.B else ()
        runner = (drill_runner(environment, env, time_scale=time_scale, evidence_dir=evidence_dir)
                  if drills else None)

        async def main() -> ReleaseResult:
            from chaos.release.checklist import run_release

            return await run_release(
                environment, spec, change_class=klass, env_path=str(env), burst_requests=burst,
                class_b_drills=drills, drill_runner=runner,
            )

        result = anyio.run(main)
        target = target_of(environment, str(env))
        token = target.token_template or ""
        secrets = [token.replace("{subject}", s) for s in result.subjects] if token else []
        inputs = {
            "environment": environment.model_dump(mode="json", by_alias=True),
            "checklist": spec.model_dump(mode="json", by_alias=True),
            "paths": {"environment": str(env), "checklist": str(checklist) if checklist else None},
        }
        evidence = release_evidence(result, inputs=inputs, secrets=secrets,
                                    input_paths=[p for p in (env, checklist) if p is not None])
        bundle = write_release_bundle(evidence_dir, result, evidence)
    except SpecError as exc:
        for issue in exc.issues:
            typer.echo(str(issue), err=True)
        raise typer.Exit(ExitCode.USAGE) from None
    except ChaosError as exc:
        typer.echo(f"chaos release: {exc}", err=True)
        raise typer.Exit(exc.exit_code) from None
    _print_result(result)
    typer.echo(f"evidence: {bundle}")
    raise typer.Exit(result.exit_code)


def _print_result(result: ReleaseResult) -> None:
    width = max(len(c.id) for c in result.criteria)
    for c in result.criteria:
        typer.echo(f"{c.verdict.value:<12} {c.id:<{width}}  {c.reason}")
    decision = "MAY PROCEED" if result.promotion_allowed else "BLOCKED"
    typer.echo(f"\nverdict {result.verdict.value}: promotion {decision} ({result.promotion_reason})")


def report_release(bundle: Path, *, tier: str | None, out: Path | None) -> NoReturn:
    """`chaos report` on a bundle `chaos release` wrote: verify it, re-render its files from
    the stored evidence (written only to `out`), print the criteria; exit as the release did."""
    from chaos.release.evidence import rerender_release_bundle

    if tier is not None:
        typer.echo(f"error: --tier: {bundle} is a release bundle; its checks have no tier to re-judge",
                   err=True)
        raise typer.Exit(ExitCode.USAGE)
    try:
        rendered = rerender_release_bundle(bundle, out=out)
    except ChaosError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(exc.exit_code) from None
    result = rendered.result
    typer.echo(f"release bundle: {result.environment}, class {result.change_class.value}, "
               f"run {result.run_id}")
    _print_result(result)
    typer.echo("re-rendered files match the bundle" if not rendered.differs else
               f"re-rendered files differ from the bundle: {', '.join(rendered.differs)}")
    if rendered.written_to is not None:
        typer.echo(f"written: {rendered.written_to}")
    raise typer.Exit(result.exit_code)
