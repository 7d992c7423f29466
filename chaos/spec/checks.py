"""Semantic checks beyond field types: fault windows, overlaps, references, guardrails.

Each check returns `(location, message)` pairs; the loader maps locations to lines.
"""

from __future__ import annotations

from datetime import timedelta

from chaos.spec.drill import Drill
from chaos.spec.environment import Environment
from chaos.spec.faults import (
    HTTP_SWITCH_MODES,
    ProviderOutageFault,
    RedisLossFault,
    RegionFailoverFault,
)
from chaos.spec.timeline import build_timeline
from chaos.spec.units import format_duration as fmt
from chaos.spec.yamlmap import Loc

Problem = tuple[Loc, str]


def drill_problems(drill: Drill) -> list[Problem]:
    problems: list[Problem] = []
    load = drill.load
    if load.ramp_up + load.ramp_down >= drill.duration:
        problems.append((("load", "ramp_up"),
                         f"ramp_up + ramp_down ({fmt(load.ramp_up + load.ramp_down)}) must be "
                         f"shorter than the duration ({fmt(drill.duration)})"))
    load_end = drill.duration - load.ramp_down
    ids: dict[str, int] = {}
    for i, fault in enumerate(drill.faults):
        if fault.id in ids:
            problems.append((("faults", i, "id"), f"fault id '{fault.id}' is already used by faults[{ids[fault.id]}]"))
        ids.setdefault(fault.id, i)
        if fault.at < load.ramp_up:
            problems.append((("faults", i, "at"),
                             f"the fault starts at {fmt(fault.at)}, before ramp_up ends at {fmt(load.ramp_up)}"))
        if fault.end > load_end:
            problems.append((("faults", i, "for"),
                             f"the fault ends at {fmt(fault.end)}, after the load ends "
                             f"(duration - ramp_down = {fmt(load_end)})"))
    for i, fault in enumerate(drill.faults):
        for j, name in enumerate(fault.overlaps):
            if name not in ids:
                problems.append((("faults", i, "overlaps", j), f"no fault has id '{name}'"))
        for earlier in drill.faults[:i]:
            if earlier.target != fault.target or earlier.id == fault.id:
                continue
            if fault.at < earlier.end and earlier.at < fault.end and not (
                earlier.id in fault.overlaps or fault.id in earlier.overlaps
            ):
                problems.append((("faults", i, "at"),
                                 f"overlaps fault '{earlier.id}' on target '{fault.target}'; "
                                 f"list it in 'overlaps' if that is intended"))
    if not problems:
        problems.extend(_phase_lengths(drill))
    return problems


def _phase_lengths(drill: Drill) -> list[Problem]:
    timeline = build_timeline(drill)
    problems: list[Problem] = []
    for name in ("baseline", "recovery"):
        minimum: timedelta | None = getattr(drill.phases, name)
        phase = timeline.phase(name)
        if minimum is None or phase is None:
            continue
        if phase.length_s < minimum.total_seconds():
            have = fmt(timedelta(seconds=phase.length_s))
            problems.append((("phases", name),
                             f"the timeline leaves {have} of {name}, less than the required {fmt(minimum)}"))
    return problems


def environment_problems(env: Environment, *, allow_production: bool) -> list[Problem]:
    problems: list[Problem] = []
    if env.kind == "production" and not allow_production:
        problems.append((("kind",), "production environments are refused without --allow-production"))
    topo = env.topology
    if topo.primary_route not in topo.providers:
        problems.append((("topology", "primary_route"),
                         f"no provider route '{topo.primary_route}' in topology.providers"))
    groups: list[tuple[Loc, tuple[str, ...]]] = []
    for route, provider in topo.providers.items():
        groups.append((("topology", "providers", route, "services"), provider.services))
    if topo.redis is not None:
        groups.append((("topology", "redis", "services"), topo.redis.services))
    for name, region in topo.regions.items():
        groups.append((("topology", "regions", name, "services"), region.services))
    for loc, services in groups:
        for i, service in enumerate(services):
            if service not in env.services:
                problems.append(((*loc, i), f"service '{service}' is not defined under 'services'"))
    for name, ref in env.services.items():
        if env.runtime.kind == "process" and ref.ref_kind != "process":
            problems.append((("services", name, ref.ref_kind),
                             "the process runtime acts on processes; use 'process: <name>'"))
        if env.runtime.kind == "docker" and ref.ref_kind == "process":
            problems.append((("services", name, "process"),
                             "the docker runtime acts on containers; use 'container' or 'compose_service'"))
        if ref.ref_kind == "compose_service" and (
            env.runtime.kind != "docker" or env.runtime.compose_project is None
        ):
            problems.append((("services", name, "compose_service"),
                             "a compose_service needs runtime.compose_project"))
    if env.guardrails.max_fault_duration <= timedelta(0):
        problems.append((("guardrails", "max_fault_duration"), "must be longer than 0s"))
    return problems


def drill_environment_problems(drill: Drill, env: Environment) -> list[Problem]:
    """Problems of the drill (located in the drill file) against one environment."""
    problems: list[Problem] = []
    guard = env.guardrails
    for i, fault in enumerate(drill.faults):
        if fault.scenario not in guard.allowed_scenarios:
            problems.append((("faults", i, "scenario"),
                             f"environment '{env.name}' does not allow scenario '{fault.scenario}'"))
        if fault.for_ > guard.max_fault_duration:
            problems.append((("faults", i, "for"),
                             f"{fmt(fault.for_)} is longer than environment '{env.name}' allows "
                             f"(guardrails.max_fault_duration {fmt(guard.max_fault_duration)})"))
        problems.extend(_target_problems(i, fault, env))
    for i, condition in enumerate(drill.abort):
        if condition.promql is not None and env.metrics.prometheus is None:
            problems.append((("abort", i, "promql"),
                             f"a promql abort condition needs environment '{env.name}' to name "
                             "metrics.prometheus (the Prometheus API it is asked)"))
    return problems


def _known(names: object) -> str:
    listed = ", ".join(repr(n) for n in names)  # type: ignore[attr-defined]  # an iterable of names
    return listed or "none"


def _target_problems(
    i: int, fault: ProviderOutageFault | RedisLossFault | RegionFailoverFault, env: Environment
) -> list[Problem]:
    topo = env.topology
    where: Loc = ("faults", i, "target")
    if isinstance(fault, ProviderOutageFault):
        route = topo.providers.get(fault.target)
        if route is None:
            return [(where, f"environment '{env.name}' has no provider route '{fault.target}' "
                            f"(known: {_known(topo.providers)})")]
        problems: list[Problem] = []
        if fault.mode in HTTP_SWITCH_MODES and route.http_fault is None:
            problems.append((("faults", i, "mode"),
                             f"mode '{fault.mode}' needs topology.providers.{fault.target}.http_fault"))
        if fault.mode not in HTTP_SWITCH_MODES and not route.proxies:
            problems.append((("faults", i, "mode"),
                             f"provider route '{fault.target}' has no proxies for mode '{fault.mode}'"))
        for j, region_name in enumerate(fault.regions or ()):
            if region_name not in topo.regions:
                problems.append((("faults", i, "regions", j),
                                 f"environment '{env.name}' has no region '{region_name}' (known: {_known(topo.regions)})"))
        return problems
    if isinstance(fault, RedisLossFault):
        if fault.target != "redis" or topo.redis is None:
            return [(where, f"environment '{env.name}' defines no Redis target '{fault.target}' "
                            "(topology.redis is the only one, named 'redis')")]
        if fault.mode == "network" and not topo.redis.proxies:
            return [(("faults", i, "mode"), "mode 'network' needs topology.redis.proxies")]
        if fault.mode != "network" and not topo.redis.services:
            return [(("faults", i, "mode"), f"mode '{fault.mode}' needs topology.redis.services")]
        return []
    region = topo.regions.get(fault.target)
    if region is None:
        return [(where, f"environment '{env.name}' has no region '{fault.target}' (known: {_known(topo.regions)})")]
    if fault.mode == "drain" and region.drain is None:
        return [(("faults", i, "mode"), f"mode 'drain' needs topology.regions.{fault.target}.drain")]
    if fault.mode == "network" and fault.via == "docker_network":
        return _docker_network_problems(i, fault.target, env)
    if fault.mode == "network" and not region.proxies:
        return [(("faults", i, "mode"), f"mode 'network' needs topology.regions.{fault.target}.proxies")]
    if fault.mode == "stop" and not region.services:
        return [(("faults", i, "mode"), f"mode 'stop' needs topology.regions.{fault.target}.services")]
    return []


def _docker_network_problems(i: int, name: str, env: Environment) -> list[Problem]:
    """region_failover via docker_network: a docker runtime, the region's networks and services."""
    region = env.topology.regions[name]
    missing = [f"topology.regions.{name}.{field}" for field in ("networks", "services")
               if not getattr(region, field)]
    if env.runtime.kind != "docker":
        missing.insert(0, "runtime kind 'docker'")
    if not missing:
        return []
    return [(("faults", i, "via"), f"via 'docker_network' needs {' and '.join(missing)}")]
