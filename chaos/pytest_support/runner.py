"""Running one drill for pytest: the same guardrails and options as `chaos run`, and Ctrl-C
(or SIGTERM from a CI runner) reverting every fault before pytest stops."""

from __future__ import annotations

import threading
from dataclasses import replace
from pathlib import Path

from chaos.console import redacting_console
from chaos.pytest_support.settings import ChaosSettings
from chaos.run.options import RunOptions, RunResult
from chaos.spec import Drill, Environment


def load_env(settings: ChaosSettings) -> Environment:
    """The environment of --chaos-env; `kind: production` refused unless --allow-production."""
    from chaos.spec import load_environment

    return load_environment(settings.require_env(), allow_production=settings.allow_production)


def options_for(settings: ChaosSettings, drill_path: Path | None) -> RunOptions:
    return RunOptions(
        time_scale=settings.time_scale, load_scale=settings.load_scale,
        evidence_dir=settings.evidence_dir, allow_production=settings.allow_production,
        live=False, drill_path=drill_path, env_path=settings.env_path,
        workers=settings.workers, max_driver_lag_ms=settings.max_driver_lag_ms,
    )


def run_drill_for_test(
    drill: Drill, env: Environment, settings: ChaosSettings, *, drill_path: Path | None = None,
    options: RunOptions | None = None,
) -> RunResult:
    """Run `drill` to its end. An interruption (SIGINT/SIGTERM) reverts every fault, seals the
    evidence as interrupted, then re-raises KeyboardInterrupt so pytest stops the session."""
    from chaos.run.entry import run_drill_sync
    from chaos.spec import check_drill_against_environment

    check_drill_against_environment(drill, env, drill_path=drill_path or f"<drill {drill.name}>",
                                    env_path=settings.env_path or "<environment>")
    opts = options or options_for(settings, drill_path)
    if drill_path is not None and opts.drill_path is None:
        opts = replace(opts, drill_path=drill_path)
    # Signals can only be watched from the main thread; elsewhere the default handler raises
    # KeyboardInterrupt inside the loop, which cancels the run and FaultSession still reverts.
    in_main = threading.current_thread() is threading.main_thread()
    result = run_drill_sync(drill, env, opts, handle_signals=in_main, console=redacting_console(stderr=True))
    if result.state == "interrupted":
        raise KeyboardInterrupt(f"drill {drill.name} interrupted; faults reverted; evidence: {result.bundle}")
    return result
