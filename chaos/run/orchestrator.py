"""`run_drill`: preflight, steady state, load + observers + faults in one task group, steady
state again, evaluation and evidence. Every fault is reverted however the run ends."""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import os
import secrets
import shutil
import socket
import time
import traceback
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anyio
from rich.console import Console

from chaos import __version__
from chaos.control import (
    ControlWatch,
    EnvironmentLock,
    EnvironmentLocked,
    KillSwitchSet,
    acquire_lock,
)
from chaos.control.switch import kill_switch_reason
from chaos.errors import (
    ChaosError,
    EvidenceWriteError,
    ExitCode,
    PreflightError,
    describe,
    one_line,
    primary_error,
)
from chaos.faults.session import DEFAULT_REVERT_DEADLINE_S, FaultSession
from chaos.faults.watchdog import Watchdog, start_watchdog
from chaos.load.backends import backend_choice
from chaos.load.config import LoadConfig
from chaos.load.controller import LoadController
from chaos.observe.exporter import DrillTelemetry
from chaos.report.bundle import BundleWriter
from chaos.report.evidence import Evidence, evidence_meta
from chaos.report.redact import redact
from chaos.report.render import SEAL_RESERVE, write_final_files
from chaos.run.abort import AbortWatch
from chaos.run.faults import FaultScheduler
from chaos.run.holds import shift_fault_phase
from chaos.run.judge import judge, steady_criteria
from chaos.run.live import LiveView
from chaos.run.observers import start_observers
from chaos.run.options import RunOptions, RunResult
from chaos.run.plan import evaluation_config, expand_headers, load_config, wall_phases
from chaos.run.preflight import check_evidence_room, estimate_bundle_bytes, run_preflight
from chaos.run.recorder import Recorder
from chaos.run.steady import CIRCUITS_CHECK, SteadyResult, wait_steady_state
from chaos.slo import EvaluationConfig, Report
from chaos.spec import Drill, Environment, FaultWindow, build_timeline, expand_env

LOAD_STARTUP_S = 2.0  # the controller starts the load this long after run() is called
DEBUG_LOG = "debug.log"  # the full traceback of whatever ended a run early
# Kept free in the bundle until sealing (a quarter of the expected bundle, within these bounds),
# so a disk that fills mid-run still takes the verdict files: run.json, summary.md,
# evidence.json, junit.xml and the manifest.
SEAL_RESERVE_MIN_BYTES = 256 * 1024
SEAL_RESERVE_MAX_BYTES = 16 * 1024 * 1024
REVERT_DEADLINE_ENV = "CHAOS_REVERT_DEADLINE_S"  # how long a failing revert is retried


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
    evidence written and marked interrupted, exit 130.

    Once the bundle exists, whatever fails underneath (a component vanishing, the evidence
    directory filling up, a fault that cannot be reverted) ends the run with a sealed bundle
    whose state says so (`revert_failed`, `infrastructure_error`, `error`), its traceback in
    the bundle's debug.log, and exit 4; faults still applied are in the journal and the
    reason names the `chaos cleanup` command that finishes them.

    One drill per environment: another drill holding its lock, or its kill switch set, refuses
    the run before anything starts (state `refused`, exit 4; docs/gameday.md)."""
    options = options or RunOptions()
    console = console or Console(stderr=True)
    try:
        lock = acquire_lock(env.name, options.evidence_dir, options.control_dir)
    except EnvironmentLocked as exc:
        return RunResult(None, ExitCode.INFRASTRUCTURE, None, state="refused", reason=str(exc))
    try:
        if lock.took_over is not None:
            console.print(f"took over the stale lock of environment {env.name} "
                          f"({lock.took_over.describe()}: that process is gone)", highlight=False)
        switch = await kill_switch_reason(env)
        if switch:
            return RunResult(None, ExitCode.INFRASTRUCTURE, None, state="refused",
                             reason=str(KillSwitchSet(env.name, switch)))
        return await _run_locked(drill, env, options, interrupt, console, lock)
    finally:
        lock.release()


async def _run_locked(drill: Drill, env: Environment, options: RunOptions, interrupt: anyio.Event | None,
                      console: Console, lock: EnvironmentLock) -> RunResult:
    timeline = build_timeline(drill, options.time_scale)
    evaluation = evaluation_config(drill, env, tier=options.tier, time_scale=options.time_scale)
    if not options.no_preflight:
        preflight = await run_preflight(drill, env)
        if not preflight.ok:
            failures = "; ".join(str(c) for c in preflight.failures)
            return RunResult(None, ExitCode.INFRASTRUCTURE, None, state="preflight_failed", reason=failures)
    before = await _steady_state(env, drill, options, "before")
    if not all(r.ok for r in before):
        failed = "; ".join(f"{r.name}: {r.detail}" for r in before if not r.ok)
        return RunResult(None, ExitCode.INFRASTRUCTURE, None, state="preflight_failed",
                         reason=f"steady state does not hold before the drill: {failed}")

    started_at = time.time()
    run_id = new_run_id(drill, started_at)
    config = load_config(drill, env, timeline, run_id=run_id, load_scale=options.load_scale, workers=options.workers)
    if options.max_driver_lag_ms is not None:
        config = config.with_(max_lag_p99_ms=options.max_driver_lag_ms)
    need_bytes = estimate_bundle_bytes(
        seconds=timeline.duration_s + LOAD_STARTUP_S, workers=config.workers,
        sample_interval_s=env.metrics.interval.total_seconds(),
        sources=len(env.metrics.scrape) + (len(env.metrics.queries.model_dump())
                                           if env.metrics.prometheus else 0))
    if not options.no_preflight:
        room = check_evidence_room(options.evidence_dir, need_bytes)
        if not room.ok:
            return RunResult(None, ExitCode.INFRASTRUCTURE, None, state="preflight_failed",
                             reason=str(room))
    reserve = min(max(need_bytes // 4, SEAL_RESERVE_MIN_BYTES), SEAL_RESERVE_MAX_BYTES)
    bundle = _create_bundle(drill, env, options, evaluation, run_id, started_at, reserve)
    if isinstance(bundle, RunResult):
        return bundle
    lock.set_run_dir(bundle.path)
    if lock.took_over is not None:
        _event(bundle, "lock_takeover", f"took over the stale lock of {lock.took_over.describe()}")
    control = ControlWatch(env, lock, on_event=lambda kind, message, **detail: _event(bundle, kind, message, **detail),
                           console=console, hold_timeout_s=options.hold_timeout_s)

    async def hold(window: FaultWindow) -> bool:
        if not (options.hold_all or window.fault.hold):
            return True
        f = window.fault
        if not await control.hold(f.id, f"{f.scenario} on {f.target} for {window.end_s - window.start_s:g}s"):
            return False
        late_s = time.time() - (load_start_wall + window.start_s)
        # A held fault runs late: its window as judged moves with it where the drill's shape
        # allows (a window belongs to the phase holding its midpoint), else stays as scheduled.
        shifted = shift_fault_phase(recorder.phases, f.id, late_s)
        if shifted is not None:
            recorder.set_phases(shifted)
        _event(bundle, "hold_shift", f"fault {f.id} applied {late_s:.1f}s after its scheduled start; "
               + ("its fault window is judged from there" if shifted is not None
                  else "its fault window is judged as scheduled"),
               fault_id=f.id, late_s=late_s, judged_shifted=shifted is not None)
        return True
    recorder = Recorder(run_id, started_at, bundle, options.time_scale, options.load_scale,
                        env.metrics.interval.total_seconds())
    abort = AbortWatch(drill, options.time_scale, env.metrics.interval.total_seconds(), evaluation.primary_route,
                       prometheus_url=expand_env(env.metrics.prometheus) if env.metrics.prometheus else None,
                       headers=expand_headers(env.metrics.headers, "metrics.headers"))
    recorder.listeners.append(abort.feed)
    telemetry = DrillTelemetry(env, recorder, evaluation, drill=drill.name, run_id=run_id)

    state, reason = "complete", ""
    failure: BaseException | None = None
    cancelled: BaseException | None = None
    after: list[SteadyResult] = []
    scheduler: FaultScheduler | None = None
    phases_box: list[tuple[Any, ...]] = [()]
    watchdog: Watchdog | None = None
    session = FaultSession(env, run_dir=bundle.path, run_id=run_id,
                           revert_deadline_s=_revert_deadline_s())
    try:
        for r in before:
            bundle.append_event("steady_state.before", r.detail, name=r.name, ok=r.ok, measured=r.measured)
        watchdog = start_watchdog(bundle.path)
        async with session, anyio.create_task_group() as tg:
            controller = LoadController(config, recorder.add_window, recorder.add_missing, startup_s=LOAD_STARTUP_S,
                                        backend=backend_choice(env.load), on_worker=recorder.add_worker)
            await controller.prepare()  # workers placed (Ray: nodes reserved, clocks checked) first
            load_start_wall = time.time() + LOAD_STARTUP_S
            load_start_mono = time.monotonic() + LOAD_STARTUP_S
            phases = wall_phases(timeline, load_start_wall)
            phases_box[0] = phases
            recorder.set_phases(phases)
            scheduler = FaultScheduler(session, timeline, load_start_monotonic=load_start_mono,
                                       load_start_wall=load_start_wall, on_record=recorder.add_fault,
                                       hold=hold)
            start_observers(tg, env, drill, recorder, run_id=run_id)
            telemetry.start(tg, phases)  # the drill's metrics and annotations (docs/dashboards.md)
            if options.live:
                view = LiveView(recorder, drill_name=drill.name, evaluation=evaluation,
                                phases=lambda: phases, active_faults=scheduler.active, console=console)
                tg.start_soon(view.run)
            tg.start_soon(scheduler.run)

            async def stop_on(event: anyio.Event, why: str, because: Any = lambda: abort.reason) -> None:
                nonlocal state, reason
                await event.wait()
                if state == "complete":
                    state, reason = why, because() or "interrupted"
                    _event(bundle, why, reason)
                tg.cancel_scope.cancel()

            tg.start_soon(stop_on, abort.fired, "aborted")
            tg.start_soon(stop_on, control.fired, "aborted", lambda: control.reason)
            if interrupt is not None:
                tg.start_soon(stop_on, interrupt, "interrupted")
            tg.start_soon(abort.run)
            tg.start_soon(control.run)
            await controller.run(start_wall=load_start_wall)  # one instant for load and faults
            tg.cancel_scope.cancel()
    except anyio.get_cancelled_exc_class() as exc:
        # Cancelled from outside (a test timeout, an embedding program shutting down): the
        # session has reverted every fault on the way out; seal the evidence, then propagate.
        state, reason, cancelled = "interrupted", "the run was cancelled by its caller", exc
        _event(bundle, "interrupted", reason)
    except BaseException as exc:
        main = primary_error(exc)
        if not isinstance(main, Exception):
            raise  # KeyboardInterrupt, SystemExit: not ours to turn into a verdict
        failure = exc
        state, reason = _classify(main, bundle.path)
        _event(bundle, state, reason, type=type(main).__name__)
    finally:
        if watchdog is not None:
            watchdog.release()  # blocking and short: ends the lease, the watchdog exits
        if scheduler is not None:
            for record in scheduler.records():
                _quietly(recorder.add_fault, record)  # the session's final revert instants
    if session.still_applied():
        # Whatever else happened, a fault left applied is what the operator must act on.
        error = session.revert_error()
        state, reason = "revert_failed", str(error)
        _event(bundle, "revert_failed", reason,
               actions=[{"fault_id": a.fault_id, "primitive": a.primitive, "target": a.target,
                         "error": a.error, "verified": a.verified} for a in error.still_applied],
               cleanup=error.cleanup)
    if failure is not None:
        _write_debug_log(bundle.path, failure)
    if cancelled is not None:
        _seal(bundle, recorder, evaluation, drill, options, config, before, state, reason)
        telemetry.close()
        raise cancelled
    if state == "complete":
        try:
            after = await _steady_state(env, drill, options, "after")
        except ChaosError as exc:
            state, reason = "infrastructure_error", describe(exc)
            _write_debug_log(bundle.path, exc)
        for r in after:
            _event(bundle, "steady_state.after", r.detail, name=r.name, ok=r.ok, measured=r.measured)
        # Circuits closing after the drill is recovery evidence (how long it took is in the
        # event), not a criterion: without traffic, a platform's breakers may wait half-open.
        after = [r for r in after if r.name != CIRCUITS_CHECK]
    report, evidence, problems = _seal(bundle, recorder, evaluation, drill, options, config,
                                       before, state, reason, after)
    if problems:
        # The evidence could not be written whole: an infrastructure error, whatever the drill did.
        state = "infrastructure_error" if state == "complete" else state
        reason = "; ".join([*([reason] if reason else []), *problems])
    if state == "interrupted" and not problems:
        code = ExitCode.INTERRUPTED
    elif state == "aborted" and not problems:
        code = ExitCode.FAIL
    elif state != "complete" or evidence is None:
        code = ExitCode.INFRASTRUCTURE
    else:
        code = {"PASS": ExitCode.PASS, "FAIL": ExitCode.FAIL}.get(evidence.verdict.value, ExitCode.INCONCLUSIVE)
    verdict = evidence.verdict if evidence is not None else None
    await telemetry.finish(state, verdict.value if verdict is not None else "INCONCLUSIVE",
                           started_at=started_at, ended_at=time.time())
    return RunResult(verdict, code, bundle.path, report, state=state, reason=reason)


def _revert_deadline_s() -> float:
    """How long a failing revert is retried before the run gives up on it (the environment
    variable CHAOS_REVERT_DEADLINE_S, 1 to 3600 s, default 60 s)."""
    raw = os.environ.get(REVERT_DEADLINE_ENV, "")
    try:
        value = float(raw) if raw else DEFAULT_REVERT_DEADLINE_S
    except ValueError:
        return DEFAULT_REVERT_DEADLINE_S
    return min(max(value, 1.0), 3600.0) if value == value else DEFAULT_REVERT_DEADLINE_S


async def _steady_state(env: Environment, drill: Drill, options: RunOptions,
                        when: str) -> list[SteadyResult]:
    """The steady-state checks, bounded as a whole: a target or metrics endpoint that accepts
    and never answers cannot stall the run (PreflightError after the deadline)."""
    bound = options.steady_state_timeout_s + 30.0
    try:
        with anyio.fail_after(bound):
            return await wait_steady_state(env, drill.steady_state,
                                           timeout_s=options.steady_state_timeout_s)
    except TimeoutError:
        raise PreflightError(f"steady state {when}",
                             f"the checks did not answer within {bound:g}s: is the target "
                             "or its metrics endpoint hanging?") from None


def _create_bundle(drill: Drill, env: Environment, options: RunOptions, evaluation: Any,
                   run_id: str, started_at: float, reserve_bytes: int) -> BundleWriter | RunResult:
    """The bundle with its run.json, seal reserve and inputs; a one-line refusal (no bundle
    left behind) when the evidence directory cannot take them."""
    bundle: BundleWriter | None = None
    try:
        bundle = BundleWriter.create(options.evidence_dir, drill.name, started_at, run_meta={
            "run_id": run_id, "drill": drill.name, "started_at": started_at, "state": "running",
            "pid": os.getpid(), "host": socket.gethostname(),  # a dead runner's bundle: killed
            "time_scale": options.time_scale, "load_scale": options.load_scale,
            "sample_interval_s": env.metrics.interval.total_seconds(),
        })
        with (bundle.path / SEAL_RESERVE).open("wb") as reserve:
            try:
                os.posix_fallocate(reserve.fileno(), 0, reserve_bytes)
            except OSError as exc:
                if exc.errno != errno.EOPNOTSUPP:
                    raise
                reserve.write(b"\0" * reserve_bytes)  # a file system without fallocate
                reserve.flush()
                os.fsync(reserve.fileno())
        bundle.write_inputs(drill_inputs(drill, env, options, evaluation))
    except OSError as exc:
        where = bundle.path if bundle is not None else options.evidence_dir
        if bundle is not None:
            with contextlib.suppress(OSError):
                bundle.close()
            shutil.rmtree(bundle.path, ignore_errors=True)  # ours, and nothing ran yet
        error = EvidenceWriteError(str(where), "create the bundle", exc,
                                   hint="free space or choose another --evidence-dir")
        return RunResult(None, ExitCode.INFRASTRUCTURE, None, state="preflight_failed",
                         reason=str(error))
    return bundle


def _classify(exc: BaseException, bundle_dir: Path) -> tuple[str, str]:
    """The state and one-line reason a failure ends the run with."""
    if isinstance(exc, OSError):
        error = EvidenceWriteError(str(bundle_dir), "append the recording", exc,
                                   hint="the run stopped early and reverted its faults; what "
                                        "was recorded until then is kept and judged")
        return "infrastructure_error", str(error)
    if isinstance(exc, ChaosError):
        return "infrastructure_error", describe(exc)
    return "error", f"{describe(exc)} (a bug: the traceback is in {bundle_dir / DEBUG_LOG})"


def _event(bundle: BundleWriter, kind: str, message: str, **detail: Any) -> None:
    _quietly(bundle.append_event, kind, message, **detail)


def _quietly(fn: Any, *args: Any, **kwargs: Any) -> None:
    """Record something when the disk still takes it: a full evidence directory has already
    ended the run and says so in its reason."""
    with contextlib.suppress(OSError):
        fn(*args, **kwargs)


def _write_debug_log(bundle_dir: Path, exc: BaseException) -> None:
    """Append `exc`'s full traceback to the bundle's debug.log (nothing when the disk is full)."""
    from chaos.redact import redact_text  # a traceback quotes URLs and values: no secret in it

    text = "".join(traceback.format_exception(exc))
    path = bundle_dir / DEBUG_LOG
    try:
        with path.open("a", encoding="utf-8") as log:
            log.write(redact_text(f"{datetime.now(tz=UTC).isoformat()} {type(exc).__name__}\n{text}\n"))
    except OSError:
        with contextlib.suppress(OSError):
            if path.stat().st_size == 0:
                path.unlink()


def _seal(bundle: BundleWriter, recorder: Recorder, evaluation: EvaluationConfig, drill: Drill,
          options: RunOptions, config: LoadConfig, before: list[SteadyResult], state: str,
          reason: str, after: list[SteadyResult] | None = None,
          ) -> tuple[Report | None, Evidence | None, list[str]]:
    """Close the bundle, judge the recording and write the evidence from what was recorded
    (no awaits: it also runs while the run's task is being cancelled). Never raises for a
    write that fails: returns the problems, one line each (a full disk still leaves the
    small files, written first, and the recording to re-judge later)."""
    from chaos.report.reader import read_inputs_and_events

    problems: list[str] = []
    ended_at = time.time()
    aborted = None if state == "complete" else (reason or state)
    try:
        bundle.close()
    except OSError as exc:
        if state == "complete":  # else the failure that ended the run (a full disk) says it
            problems.append(str(EvidenceWriteError(str(bundle.path), "flush the recording", exc)))
    with contextlib.suppress(FileNotFoundError):
        (bundle.path / SEAL_RESERVE).unlink()  # the room the verdict files were promised
    try:
        bundle.set_state(state, ended_at=ended_at, aborted=aborted)  # type: ignore[arg-type]  # state is a RunState
    except OSError as exc:
        problems.append(str(EvidenceWriteError(str(bundle.path / "run.json"), "write the run state", exc)))
    recording = recorder.recording(ended_at=ended_at, complete=state == "complete", aborted=aborted)
    inputs, events = read_inputs_and_events(bundle.path)
    extra = steady_criteria("before", before, recording.started_at)
    if after:
        extra += steady_criteria("after", after, recording.ended_at)
    meta = evidence_meta(
        options={"time_scale": options.time_scale, "load_scale": options.load_scale, "tier": options.tier,
                 "no_preflight": options.no_preflight, "workers": config.workers,
                 "max_driver_lag_ms": config.max_lag_p99_ms},
        drill_paths=[p for p in (options.drill_path, options.env_path) if p is not None],
        version=__version__)
    try:
        report, evidence = judge(recording, evaluation, drill=drill.name, state=state,
                                 extra_criteria=extra, inputs=inputs, meta=meta, events=events)
    except Exception as exc:  # a bug in evaluation must not lose the recording: re-judge later
        _write_debug_log(bundle.path, exc)
        problems.append(f"judging the recording failed ({describe(exc)}); the recording is "
                        f"kept: `chaos report {bundle.path}` judges it again")
        return None, None, problems
    try:
        write_final_files(bundle.path, evidence)
    except EvidenceWriteError as exc:
        # Its one line says all (a log written now would change a sealed bundle).
        problems.append(one_line(str(exc)))
    return report, evidence, problems
