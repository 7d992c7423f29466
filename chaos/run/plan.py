"""From a drill and an environment to what the run starts: the load config, the evaluation
config and the wall-clock phases (pure mapping, no I/O)."""

from __future__ import annotations

import os
from urllib.parse import urlsplit

from chaos.load.config import LoadConfig
from chaos.recording import Phase
from chaos.slo.config import EvaluationConfig
from chaos.slo.scope import REVERT_CUT_SPAN_S, REVERT_CUT_STEP_S
from chaos.spec import Drill, Environment, Timeline, expand_env
from chaos.spec.urls import join_url

DEFAULT_REGION_HEADER = "x-served-by-region"
# Think time and request timeouts describe the system and the users, not the drill's
# schedule, so --time-scale leaves them alone; ramps, hold, fault windows and the stall
# timeout scale.


def wall_phases(timeline: Timeline, load_started_at: float) -> tuple[Phase, ...]:
    """The timeline's phases as wall-clock scopes: load start + offsets."""
    return tuple(
        Phase(
            name=p.name,
            kind=p.kind,
            start=load_started_at + p.start_s,
            end=load_started_at + p.end_s,
            tier=p.tier,
            fault_id=p.fault_id,
        )
        for p in timeline.phases
    )


def env_hosts(env: Environment) -> tuple[str, ...]:
    """Hosts the driver may target: the guardrail's list, else the hosts the environment names."""
    if env.guardrails.allowed_hosts is not None:
        return env.guardrails.allowed_hosts
    host = urlsplit(expand_env(env.target.base_url)).hostname
    return (host,) if host else ()


def expand_headers(headers: dict[str, str], where: str) -> tuple[tuple[str, str], ...]:
    """Header values with their `${VAR}` resolved (the values are secrets: never logged)."""
    return tuple((name, expand_env(value, where=f"{where}.{name}")) for name, value in headers.items())


def window_cuts(timeline: Timeline) -> tuple[float, ...]:
    cuts = {b for p in timeline.phases for b in (p.start_s, p.end_s)}
    for p in timeline.phases:
        if p.kind == "fault":
            steps = round(REVERT_CUT_SPAN_S / REVERT_CUT_STEP_S)
            cuts.update(p.end_s + k * REVERT_CUT_STEP_S for k in range(1, steps + 1))
    return tuple(sorted(cuts))


def load_config(
    drill: Drill, env: Environment, timeline: Timeline, *, run_id: str, load_scale: float,
    workers: int | None = None,
) -> LoadConfig:
    load = drill.load
    ramp_up = timeline.phase("ramp_up")
    ramp_down = timeline.phase("ramp_down")
    ramp_up_s = ramp_up.length_s if ramp_up else 0.0
    ramp_down_s = ramp_down.length_s if ramp_down else 0.0
    auth = env.target.auth
    base = expand_env(env.target.base_url, where="target.base_url")
    if workers is None:
        workers = load.workers if isinstance(load.workers, int) else _auto_workers(drill, load_scale)
    timeouts = load.timeouts
    common = {
        "url": join_url(base, env.target.chat_path_resolved),
        "token_template": expand_env(auth.token, where="target.auth.token") if auth else "",
        "subjects": auth.subjects if auth else 1,
        "message": load.message,
        "model": load.model,
        "think_time_s": load.think_time.total_seconds(),
        "ramp_up_s": ramp_up_s,
        "hold_s": max(0.0, timeline.duration_s - ramp_up_s - ramp_down_s),
        "ramp_down_s": ramp_down_s,
        "connect_timeout_s": timeouts.connect.total_seconds(),
        "first_byte_timeout_s": timeouts.first_byte.total_seconds(),
        # The stall timeout is drill time (a stall of 30 "seconds" in a run compressed 4x is
        # 7.5 s), so it scales; the other request timeouts describe the system and do not.
        "stall_timeout_s": max(0.05, timeouts.stall_s * timeline.time_scale),
        "protocol": env.target.profile(),
        "headers": expand_headers(env.target.headers, "target.headers"),
        "total_timeout_s": timeouts.total.total_seconds(),
        "region_header": env.target.region_header or DEFAULT_REGION_HEADER,
        "request_id_header": env.target.request_id_header,
        "workers": workers,
        "run_id": run_id,
        "allowed_hosts": env_hosts(env),
        # Windows end at every phase boundary too, so an outcome is booked in the phase in
        # which it happened (a burst at a fault's first instant is the fault's, not the
        # baseline's): README "Measurement".
        # After each fault's end, a 50 ms grid for half a second: the phase then ends where
        # the revert was verified (chaos.slo.scope.booked_phases), still on a window edge.
        "window_cuts_s": window_cuts(timeline),
    }
    if load.model == "closed":
        streams = max(1, round((load.concurrent_streams or 1) * load_scale))
        return LoadConfig(streams=streams, **common)  # type: ignore[arg-type]  # keys are LoadConfig fields
    rate = (load.rate or 0.0) * load_scale
    in_flight = max(1, round((load.max_in_flight or 1000) * load_scale))
    return LoadConfig(rate_per_s=rate, max_in_flight=in_flight, **common)  # type: ignore[arg-type]  # keys are LoadConfig fields


def _auto_workers(drill: Drill, load_scale: float) -> int:
    """One worker per ~2,500 streams (or 500 req/s), at most the cores, at least one."""
    load = drill.load
    need = (load.concurrent_streams or 0) * load_scale / 2500 + (load.rate or 0.0) * load_scale / 500
    return max(1, min(os.cpu_count() or 1, round(need + 0.5)))


def evaluation_config(
    drill: Drill, env: Environment, *, tier: str | None = None, time_scale: float = 1.0,
    sample_interval_s: float | None = None,
) -> EvaluationConfig:
    """The evaluator's parameters for this drill; `tier` re-judges against another tier
    (the gate is dropped when it judges a different tier). One time-scaling rule: every
    duration that is drill time (circuit-open limit, rollback streak minutes, the circuit and
    queue rollback spans, hard-failure quiet time, back-within-SLO window; the fault windows
    and the stall timeout elsewhere) is multiplied by `time_scale`, and evidence gives each
    nominal and scaled (`report.durations`). Limits on what the system measures (the queue-age
    limit in seconds of age, latency thresholds) are not time and do not scale."""
    judged = (tier or drill.tier).upper()
    o = drill.slo.overrides
    overrides: dict[str, float] = {}
    for name in ("availability", "rate_2xx", "rate_5xx", "rate_429"):
        value = getattr(o, name)
        if value is not None:
            overrides[name] = float(value)
    for name in ("p95_first_token", "p95_completion"):
        value = getattr(o, name)
        if value is not None:
            overrides[name] = value.total_seconds() * 1000.0
    gate = drill.gate if judged == drill.tier.upper() else None
    extra: dict[str, float | int] = {}
    if drill.slo.min_requests_for_p95 is not None:
        extra["min_requests_for_p95"] = drill.slo.min_requests_for_p95
    if drill.slo.max_probe_gap is not None:
        extra["max_probe_gap_fraction"] = float(drill.slo.max_probe_gap)
    limits = drill.limits
    circuit = limits.circuit_open_max.total_seconds() if limits.circuit_open_max else None
    if time_scale != 1.0:
        base = EvaluationConfig(tier=judged, gate=gate)
        circuit = (circuit if circuit is not None else base.circuit_limit_s) * time_scale
        extra["hard_failure_quiet_s"] = base.hard_failure_quiet_s * time_scale
        extra["back_within_slo_window_s"] = max(1.0, base.back_within_slo_window_s * time_scale)
        # The rollback triggers' minutes are drill time too: 5 "minutes" of 5xx in a run compressed
        # 10x are 30 s; without this a compressed run never has a whole minute to judge.
        extra["rollback_minute_s"] = base.rollback_minute_s * time_scale
        extra["rollback_circuit_s"] = base.rollback_circuit_s * time_scale
        extra["rollback_queue_s"] = base.rollback_queue_s * time_scale
    return EvaluationConfig(
        tier=judged,
        gate=gate,
        overrides=overrides if judged == drill.tier.upper() else {},
        circuit_open_max_s=circuit,
        queue_age_max_s=limits.queue_age_max.total_seconds() if limits.queue_age_max else None,
        primary_route=env.topology.primary_route,
        sample_interval_s=sample_interval_s,
        time_scale=time_scale,
        **extra,  # type: ignore[arg-type]  # keys are EvaluationConfig fields
    )
