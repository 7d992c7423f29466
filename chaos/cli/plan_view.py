"""Rendering of `chaos plan`: the timeline table, each fault's window and primitives."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from rich.console import Console
from rich.table import Table

from chaos.spec import Environment, Fault
from chaos.spec.drill import Drill
from chaos.spec.timeline import Timeline
from chaos.spec.units import format_duration


def offset(seconds: float) -> str:
    """`+M:SS` (or `+H:MM:SS`), with milliseconds when the offset is fractional."""
    ms_total = round(seconds * 1000)
    s_total, ms = divmod(ms_total, 1000)
    h, rem = divmod(s_total, 3600)
    m, s = divmod(rem, 60)
    text = f"+{h}:{m:02d}:{s:02d}" if h else f"+{m}:{s:02d}"
    return f"{text}.{ms:03d}" if ms else text


def _length(seconds: float) -> str:
    return format_duration(timedelta(seconds=seconds))


def describe_primitives(fault: Fault, env: Environment) -> list[str]:
    """The primitives of a fault, from `chaos.faults.describe_fault` when it exists, else
    from the environment's topology."""
    try:
        from chaos import faults as faults_pkg

        describe: Callable[[Fault, Environment], list[str]] | None = getattr(
            faults_pkg, "describe_fault", None)
    except ImportError:
        describe = None
    if describe is not None:
        return list(describe(fault, env))
    return _from_topology(fault, env)


def _services(env: Environment, names: tuple[str, ...]) -> str:
    out = []
    for name in names:
        ref = env.services.get(name)
        out.append(f"{name} ({ref.ref_kind} {ref.ref_name})" if ref else name)
    return ", ".join(out) or "none"


def _from_topology(fault: Fault, env: Environment) -> list[str]:
    topo = env.topology
    if fault.scenario == "provider_outage":
        route = topo.providers.get(fault.target)
        if route is None:
            return [f"unknown provider route {fault.target}"]
        proxies = [p for p in route.proxies
                   if not fault.regions or any(p.startswith(r) for r in fault.regions)]
        toxic = {
            "down": "disable proxy", "blackhole": "timeout toxic 0 (data stalls)",
            "reset": "reset_peer toxic", "slow": f"bandwidth toxic {fault.rate_kbps} KB/s",
            "latency": f"latency toxic {format_duration(fault.latency) if fault.latency else ''}"
                       + (f" +/- {format_duration(fault.jitter)}" if fault.jitter else ""),
            "partial": f"reset_peer toxic on {round((fault.toxicity or 0) * 100, 3):g}% of connections",
        }
        rate = f" on {round((1 if fault.toxicity is None else fault.toxicity) * 100, 3):g}% of requests"
        if fault.mode == "http_errors":
            retry = f", Retry-After {format_duration(fault.retry_after)}" if fault.retry_after else ""
            return [f"HTTP fault switch {route.http_fault}: status {fault.status}{rate}{retry}"]
        if fault.mode.startswith("stream_"):
            after = 1 if fault.after_chunks is None else fault.after_chunks
            end = {"stream_error": f"in-band error {fault.code or 'overloaded_error'}",
                   "stream_truncate": "end without [DONE]",
                   "stream_stall": "stall until the client goes away"}[fault.mode]
            return [f"HTTP fault switch {route.http_fault}: streams break after {after} "
                    f"chunk(s){rate}: {end}"]
        return [f"toxiproxy {p}: {toxic[fault.mode]}" for p in proxies]
    if fault.scenario == "redis_loss":
        if topo.redis is None:
            return ["no redis in topology"]
        if fault.mode == "network":
            return [f"toxiproxy {p}: disable proxy" for p in topo.redis.proxies]
        return [f"{fault.mode} service {_services(env, (s,))}" for s in topo.redis.services]
    region = topo.regions.get(fault.target)
    if region is None:
        return [f"unknown region {fault.target}"]
    if fault.mode == "network":
        return [f"toxiproxy {p}: disable proxy" for p in region.proxies]
    if fault.mode == "stop":
        return [f"stop service {_services(env, (s,))}" for s in region.services]
    assert region.drain is not None  # Invariant: checked against the environment
    assert region.undrain is not None  # validated: drain and undrain go together
    return [f"drain: {region.drain.method} {region.drain.url}",
            f"revert: {region.undrain.method} {region.undrain.url}"]


def abort_lines(drill: Drill, time_scale: float) -> list[str]:
    """The drill's stop conditions as `chaos run` will watch them (durations compressed)."""
    if not drill.abort:
        return []
    out = ["abort when (faults reverted, evidence sealed as aborted):"]
    for c in drill.abort:
        bound = ("" if c.above is None and c.below is None
                 else f" {'>' if c.above is not None else '<'} {c.above if c.above is not None else c.below:g}")
        held = c.for_.total_seconds() * time_scale
        what = f"PromQL {c.promql}{bound or ' (any series > 0)'}" if c.promql else f"{c.metric}{bound}"
        out.append(f"  - {c.name}: {what} held {_length(held)}")
    return out


def render_plan(drill: Drill, env: Environment, timeline: Timeline, console: Console | None = None) -> None:
    console = console or Console(highlight=False, soft_wrap=True)
    scale = f", time scale {timeline.time_scale:g}" if timeline.time_scale != 1.0 else ""
    console.print(f"[bold]drill {drill.name}[/] on environment {env.name} ({env.kind}): "
                  f"{_length(timeline.duration_s)}{scale}, tier {drill.tier}"
                  + (f", gate {drill.gate}" if drill.gate else ""))
    if drill.description:
        console.print(drill.description)
    table = Table(title="timeline (offsets from load start)", title_justify="left")
    for column in ("phase", "start", "end", "length", "SLO scope"):
        table.add_column(column)
    for phase in timeline.phases:
        scope = f"Tier {phase.tier}" if phase.tier else "not judged"
        table.add_row(phase.name, offset(phase.start_s), offset(phase.end_s),
                      _length(phase.length_s), scope)
    console.print(table)
    for window in timeline.faults:
        fault = window.fault
        console.print(f"fault [bold]{fault.id}[/]: {fault.scenario} {fault.mode} on {fault.target}, "
                      f"{offset(window.start_s)} .. {offset(window.end_s)} "
                      f"({_length(window.end_s - window.start_s)}), judged on Tier {window.tier}")
        if getattr(fault, "hold", False):
            console.print("  - hold: waits for `chaos resume` (or Enter) before applying; "
                          "`chaos run --hold-all` holds every fault")
        for line in describe_primitives(fault, env):
            console.print(f"  - {line}")
    for line in abort_lines(drill, timeline.time_scale):
        console.print(line, markup=False)
    console.print(f"expected load: {timeline.volume.description}")
    from chaos.load.backends import backend_choice
    from chaos.load.backends.describe import describe_workers

    console.print("load workers:")
    for line in describe_workers(backend_choice(env.load),
                                 drill.load.workers if isinstance(drill.load.workers, int) else None):
        console.print(f"  - {line}", markup=False)
