"""Class B: the environment's staging drill subset, run smoke-scaled through `chaos.run`."""

from __future__ import annotations

from pathlib import Path

from chaos.errors import SpecError, SpecIssue
from chaos.release.checklist import DrillRunner
from chaos.slo.verdict import Criterion, Verdict
from chaos.spec.environment import Environment


def class_b_drill_paths(env: Environment, env_path: Path) -> tuple[Path, ...]:
    """The drills of `release.class_b_drills`, relative to the working directory or, failing
    that, to the environment file's directory or its parent (a repository root)."""
    names = env.release.class_b_drills if env.release is not None else ()
    out: list[Path] = []
    for name in names:
        raw = Path(name).expanduser()
        candidates = [raw] if raw.is_absolute() else [
            raw, env_path.parent / raw, env_path.parent.parent / raw]
        found = next((c for c in candidates if c.is_file()), None)
        if found is None:
            raise SpecError(SpecIssue(str(env_path), None, None, "release.class_b_drills",
                                      f"class B drill {name!r} not found"))
        out.append(found)
    return tuple(out)


def drill_runner(
    env: Environment, env_path: Path, *, time_scale: float, evidence_dir: Path,
) -> DrillRunner:
    """Runs one class B drill with `chaos.run.run_drill` (compressed by `time_scale`, its own
    evidence bundle under `evidence_dir`) and judges it as one release criterion."""

    async def run(path: Path) -> Criterion:
        from rich.console import Console

        from chaos.run.options import RunOptions
        from chaos.run.orchestrator import run_drill
        from chaos.spec.loader import check_drill_against_environment, load_drill

        drill = load_drill(path)
        check_drill_against_environment(drill, env, drill_path=path, env_path=env_path)
        options = RunOptions(time_scale=time_scale, evidence_dir=evidence_dir, live=False,
                             drill_path=path, env_path=env_path)
        result = await run_drill(drill, env, options, console=Console(stderr=True))
        verdict = result.verdict if result.verdict is not None else Verdict.INCONCLUSIVE
        ended = f"ended {result.state}" + (f" ({result.reason})" if result.reason else "")
        return Criterion(
            id=f"release.class_b.{drill.name}", verdict=verdict, measured=None, threshold=None,
            unit="", scope="release",
            reason=f"drill {drill.name} at time scale {time_scale:g}: {verdict.value}, {ended}",
            details={"drill": str(path), "exit_code": int(result.exit_code), "state": result.state,
                     "bundle": str(result.bundle) if result.bundle else None},
        )

    return run
