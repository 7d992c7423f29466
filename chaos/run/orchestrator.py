"""`run_drill`: preflight, steady state, load + observers + faults in one task group, steady
state again, evaluation and evidence. Every fault is reverted however the run ends."""

from __future__ import annotations

import dataclasses
import secrets
import time
from datetime import UTC, datetime
from typing import Any

import anyio
from rich.console import Console

from chaos.errors import ChaosError, ExitCode
from chaos.faults import FaultSession, start_watchdog
from chaos.load.backends import backend_choice
from chaos.load.config import LoadConfig
from chaos.load.controller import LoadController
from chaos.observe.exporter import DrillTelemetry
from chaos.report.bundle import BundleWriter
from chaos.report.evidence import Evidence
from chaos.report.redact import redact
from chaos.run.abort import AbortWatch
from chaos.run.faults import FaultScheduler
from chaos.run.judge import judge_and_write
from chaos.run.live import LiveView
from chaos.run.observers import start_observers
from chaos.run.options import RunOptions, RunResult
from chaos.run.plan import evaluation_config, load_config, wall_phases
from chaos.run.preflight import run_preflight
from chaos.run.recorder import Recorder
from chaos.run.steady import CIRCUITS_CHECK, SteadyResult, wait_steady_state
from chaos.slo import EvaluationConfig, Report
from chaos.spec import Drill, Environment, build_timeline

LOAD_STARTUP_S = 2.0  # the controller starts the load this long after run() is called


def new_run_id(drill: Drill, now: float) -> str:
    stamp = datetime.fromtimestamp(now, tz=UTC).strftime("%Y%m%dT%H%M%SZ")
    return f"{stamp}-{drill.name}-{secrets.token_hex(3)}"


def drill_inputs(drill: Drill, env: Environment, options: RunOptions, evaluation: Any) -> dict[str, Any]:
    """Inputs as written (`${VAR}` references unresolved), literal secrets redacted."""
    redacted: dict[str, Any] = redact({
        "drill": drill.model_dump(mode="json", by_alias=True),
        "environment": env.model_dump(mode="json", by_alias=True),
        "drill_path": str(options.drill_path) if options.drill_path else None,
        "environment_path": str(options.env_path) if options.env_path else None,
        "evaluation": dataclasses.asdict(evaluation) | {"overrides": dict(evaluation.overrides)},
    })
    return redacted


async def run_drill(
    drill: Drill,
    env: Environment,
    options: RunOptions | None = None,
    *,
    interrupt: anyio.Event | None = None,
    console: Console | None = None,
) -> RunResult:
    """Run one drill end to end. Setting `interrupt` stops it like SIGINT: faults reverted,
    evidence written and marked interrupted, exit 130."""
    options = options or RunOptions()
    console = console or Console(stderr=True)
    timeline = build_timeline(drill, options.time_scale)
    evaluation = evaluation_config(drill, env, tier=options.tier, time_scale=options.time_scale)
    if not options.no_preflight:
        preflight = await run_preflight(drill, env)
        if not preflight.ok:
            failures = "; ".join(str(c) for c in preflight.failures)
            return RunResult(None, ExitCode.INFRASTRUCTURE, None, state="preflight_failed", reason=failures)
    before = await wait_steady_state(env, drill.steady_state, timeout_s=options.steady_state_timeout_s)
    if not all(r.ok for r in before):
        failed = "; ".join(f"{r.name}: {r.detail}" for r in before if not r.ok)
        return RunResult(None, ExitCode.INFRASTRUCTURE, None, state="preflight_failed",
                         reason=f"steady state does not hold before the drill: {failed}")

    started_at = time.time()
    run_id = new_run_id(drill, started_at)
    config = load_config(drill, env, timeline, run_id=run_id, load_scale=options.load_scale, workers=options.workers)
    if options.max_driver_lag_ms is not None:
        config = config.with_(max_lag_p99_ms=options.max_driver_lag_ms)
    bundle = BundleWriter.create(options.evidence_dir, drill.name, started_at, run_meta={
        "run_id": run_id, "drill": drill.name, "started_at": started_at, "state": "running",
        "time_scale": options.time_scale, "load_scale": options.load_scale,
        "sample_interval_s": env.metrics.interval.total_seconds(),
    })
    bundle.write_inputs(drill_inputs(drill, env, options, evaluation))
    recorder = Recorder(run_id, started_at, bundle, options.time_scale, options.load_scale,
                        env.metrics.interval.total_seconds())
    abort = AbortWatch(drill, options.time_scale, env.metrics.interval.total_seconds(), evaluation.primary_route)
    recorder.listeners.append(abort.feed)
    telemetry = DrillTelemetry(env, recorder, evaluation, drill=drill.name, run_id=run_id)
    for r in before:
        bundle.append_event("steady_state.before", r.detail, name=r.name, ok=r.ok, measured=r.measured)

    state, reason, error = "complete", "", None
    cancelled: BaseException | None = None
    after: list[SteadyResult] = []
    scheduler: FaultScheduler | None = None
    phases_box: list[tuple[Any, ...]] = [()]
    watchdog = start_watchdog(bundle.path)
    try:
        async with FaultSession(env, run_dir=bundle.path, run_id=run_id) as session, anyio.create_task_group() as tg:
            controller = LoadController(config, recorder.add_window, recorder.add_missing, startup_s=LOAD_STARTUP_S,
                                        backend=backend_choice(env.load), on_worker=recorder.add_worker)
            await controller.prepare()  # workers placed (Ray: nodes reserved, clocks checked) first
            load_start_wall = time.time() + LOAD_STARTUP_S
            load_start_mono = time.monotonic() + LOAD_STARTUP_S
            phases = wall_phases(timeline, load_start_wall)
            phases_box[0] = phases
            recorder.set_phases(phases)
            scheduler = FaultScheduler(session, timeline, load_start_monotonic=load_start_mono,
                                       load_start_wall=load_start_wall, on_record=recorder.add_fault)
            start_observers(tg, env, drill, recorder, run_id=run_id)
            telemetry.start(tg, phases)  # the drill's metrics and annotations (docs/dashboards.md)
            if options.live:
                view = LiveView(recorder, drill_name=drill.name, evaluation=evaluation,
                                phases=lambda: phases, active_faults=scheduler.active, console=console)
                tg.start_soon(view.run)
            tg.start_soon(scheduler.run)

            async def stop_on(event: anyio.Event, why: str) -> None:
                nonlocal state, reason
                await event.wait()
                if state == "complete":
                    state, reason = why, abort.reason or "interrupted"
                    bundle.append_event(why, reason)
                tg.cancel_scope.cancel()

            tg.start_soon(stop_on, abort.fired, "aborted")
            if interrupt is not None:
                tg.start_soon(stop_on, interrupt, "interrupted")
            tg.start_soon(abort.run)
            await controller.run(start_wall=load_start_wall)  # one instant for load and faults
            tg.cancel_scope.cancel()
    except ChaosError as exc:
        state, reason, error = "error", str(exc), exc
        bundle.append_event("error", str(exc), type=type(exc).__name__)
    except anyio.get_cancelled_exc_class() as exc:
        # Cancelled from outside (a test timeout, an embedding program shutting down): the
        # session has reverted every fault on the way out; seal the evidence, then propagate.
        state, reason, cancelled = "interrupted", "the run was cancelled by its caller", exc
        bundle.append_event("interrupted", reason)
    finally:
        watchdog.release()  # blocking and short: ends the lease, the watchdog exits
        if scheduler is not None:
            for record in scheduler.records():
                recorder.add_fault(record)  # the session's final revert instants
    if cancelled is not None:
        _seal(bundle, recorder, evaluation, drill, options, config, before, state, reason)
        telemetry.close()
        raise cancelled
    if state == "complete":
        after = await wait_steady_state(env, drill.steady_state, timeout_s=options.steady_state_timeout_s)
        for r in after:
            bundle.append_event("steady_state.after", r.detail, name=r.name, ok=r.ok, measured=r.measured)
        # Circuits closing after the drill is recovery evidence (how long it took is in the
        # event), not a criterion: without traffic, a platform's breakers may wait half-open.
        after = [r for r in after if r.name != CIRCUITS_CHECK]
    report, evidence = _seal(bundle, recorder, evaluation, drill, options, config, before, state,
                             reason, after)
    if state == "interrupted":
        code = ExitCode.INTERRUPTED
    elif state == "aborted":
        code = ExitCode.FAIL
    elif error is not None:
        code = error.exit_code
    else:
        code = {"PASS": ExitCode.PASS, "FAIL": ExitCode.FAIL}.get(evidence.verdict.value, ExitCode.INCONCLUSIVE)
    await telemetry.finish(state, evidence.verdict.value, started_at=started_at, ended_at=time.time())
    return RunResult(evidence.verdict, code, bundle.path, report, state=state, reason=reason)



def _seal(bundle: BundleWriter, recorder: Recorder, evaluation: EvaluationConfig, drill: Drill,
          options: RunOptions, config: LoadConfig, before: list[SteadyResult], state: str,
          reason: str, after: list[SteadyResult] | None = None) -> tuple[Report, Evidence]:
    """Close the bundle, judge the recording and write the evidence (no awaits: it also runs
    while the run's task is being cancelled)."""
    ended_at = time.time()
    bundle.set_state(state, ended_at=ended_at, aborted=None if state == "complete" else (reason or state))  # type: ignore[arg-type]  # state is a RunState
    bundle.close()
    recording = recorder.recording(ended_at=ended_at, complete=state == "complete",
                                   aborted=None if state == "complete" else (reason or state))
    return judge_and_write(
        bundle.path, recording, evaluation, drill=drill.name, state=state, before=before,
        after=after or [],
        drill_paths=[p for p in (options.drill_path, options.env_path) if p is not None],
        options={"time_scale": options.time_scale, "load_scale": options.load_scale, "tier": options.tier,
                 "no_preflight": options.no_preflight, "workers": config.workers,
                 "max_driver_lag_ms": config.max_lag_p99_ms},
    )
