"""Scenarios: resolve a drill fault and the environment's topology into primitives (no I/O)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chaos.errors import FaultError
from chaos.faultproxy.switch import parse_fault
from chaos.faults.docker_runtime import compose_ref
from chaos.faults.primitives import Primitive, Targets
from chaos.faults.toxics import TOXIC_PREFIX, Bandwidth, Latency, ResetPeer, Timeout, ToxicSpec


def expand_env(value: str, *, where: str) -> str:
    """`${VAR}` resolution (chaos.spec imported lazily: the watchdog must start fast)."""
    from chaos.spec.envvars import expand_env as expand

    return expand(value, where=where)


if TYPE_CHECKING:
    from chaos.spec.environment import Environment, Region, ServiceRef
    from chaos.spec.faults import ProviderOutageFault, RedisLossFault, RegionFailoverFault

    AnyFault = ProviderOutageFault | RedisLossFault | RegionFailoverFault


def targets_for(env: Environment) -> Targets:
    """Where this environment's primitives act (`${VAR}` resolved now)."""
    api = expand_env(env.toxiproxy.api, where="toxiproxy.api")
    runtime = env.runtime
    if runtime.kind == "process":
        state = expand_env(runtime.state_file, where="runtime.state_file")
        from pathlib import Path

        return Targets(toxiproxy_api=api, runtime="process",
                       state_file=str(Path(state).expanduser()))
    host = expand_env(runtime.docker_host, where="runtime.docker_host") if runtime.docker_host else None
    return Targets(toxiproxy_api=api, runtime="docker", docker_host=host,
                   compose_project=compose_project(env))


def compose_project(env: Environment) -> str | None:
    """The docker runtime's compose project with `${VAR}` resolved (None without one)."""
    runtime = env.runtime
    if runtime.kind != "docker" or runtime.compose_project is None:
        return None
    return expand_env(runtime.compose_project, where="runtime.compose_project")


def resolve_fault(fault: AnyFault, env: Environment) -> list[Primitive]:
    """The primitives that make up `fault` in `env`, in apply order."""
    match fault.scenario:
        case "provider_outage":
            return _provider_outage(fault, env)
        case "redis_loss":
            return _redis_loss(fault, env)
        case "region_failover":
            return _region_failover(fault, env)
    raise FaultError(fault.target, "resolve", f"unknown scenario {fault.scenario!r}")  # pragma: no cover


def describe_fault(fault: AnyFault, env: Environment) -> list[str]:
    """Human-readable primitives for `chaos plan` (no I/O)."""
    return [p.describe() for p in resolve_fault(fault, env)]


def _toxic(fault: AnyFault, proxy: str, spec: ToxicSpec, stream: str,
           toxicity: float = 1.0) -> Primitive:
    name = f"{TOXIC_PREFIX}{fault.id}_{spec.type}_{stream}"
    return Primitive("toxiproxy.toxic", proxy, {"name": name, "type": spec.type, "stream": stream,
                                                "toxicity": toxicity,
                                                "attributes": spec.attributes()})


def _ms(value: Any) -> int:
    return round(value.total_seconds() * 1000) if value is not None else 0


def _provider_outage(fault: ProviderOutageFault, env: Environment) -> list[Primitive]:
    route = env.topology.providers.get(fault.target)
    if route is None:
        raise FaultError(fault.target, "resolve provider_outage",
                         f"no provider route {fault.target!r} (known: {sorted(env.topology.providers)})")
    proxies = list(route.proxies)
    if fault.regions:
        chosen: list[str] = []
        for region in fault.regions:
            reg = env.topology.regions.get(region)
            picked = [p for p in proxies
                      if p.startswith(f"{region}-") or (reg is not None and p in reg.proxies)]
            if not picked:
                raise FaultError(fault.target, "resolve provider_outage",
                                 f"no proxy of route {fault.target!r} in region {region!r}")
            chosen += [p for p in picked if p not in chosen]
        proxies = chosen
    if fault.mode in ("http_errors", "stream_error", "stream_truncate", "stream_stall"):
        if route.http_fault is None:
            raise FaultError(fault.target, "resolve provider_outage",
                             f"mode {fault.mode} needs the route's http_fault URL")
        url = expand_env(route.http_fault, where=f"topology.providers.{fault.target}.http_fault")
        body = _switch_body(fault)
        return [Primitive("http", url, {
            "apply": {"method": "POST", "url": url, "body": body, "expect_status": 200},
            "undo": {"method": "DELETE", "url": url, "body": None, "expect_status": 200},
            # read back like a toxic: GET answers this `fault` once applied, null once reverted
            "verify": {"url": url, "applied": parse_fault(body).to_json()}})]
    if not proxies:
        raise FaultError(fault.target, "resolve provider_outage", "the route lists no proxies")
    out: list[Primitive] = []
    for proxy in proxies:
        match fault.mode:
            case "down":
                out.append(Primitive("toxiproxy.disable", proxy))
            case "blackhole":  # timeout 0: data stalls both ways, nothing closes
                out += [_toxic(fault, proxy, Timeout(0), s) for s in ("upstream", "downstream")]
            case "reset":
                out += [_toxic(fault, proxy, ResetPeer(0), s) for s in ("upstream", "downstream")]
            case "latency":
                out.append(_toxic(fault, proxy, Latency(_ms(fault.latency), _ms(fault.jitter)),
                                  "downstream"))
            case "slow":
                out.append(_toxic(fault, proxy, Bandwidth(fault.rate_kbps or 1), "downstream"))
            case "partial":  # toxicity is drawn per connection
                out.append(_toxic(fault, proxy, ResetPeer(0), "downstream",
                                  fault.toxicity if fault.toxicity is not None else 1.0))
    return out


def _switch_body(fault: ProviderOutageFault) -> dict[str, Any]:
    """The provider fault switch's JSON for an http_errors or stream_* fault."""
    rate = fault.toxicity if fault.toxicity is not None else 1.0
    if fault.mode == "http_errors":
        return {"status": fault.status,
                "retry_after_s": fault.retry_after.total_seconds() if fault.retry_after else None,
                "rate": rate}
    kind = fault.mode.removeprefix("stream_")
    body: dict[str, Any] = {"stream": kind,
                            "after_chunks": fault.after_chunks if fault.after_chunks is not None else 1,
                            "rate": rate}
    if kind == "error":
        body["code"] = fault.code or "overloaded_error"
    return body


def _service_ref(fault: AnyFault, env: Environment, name: str) -> ServiceRef:
    ref = env.services.get(name)
    if ref is None:
        raise FaultError(name, f"resolve {fault.scenario}",
                         f"service {name!r} is not in the environment's services")
    return ref


def _container_target(env: Environment, ref: ServiceRef) -> str:
    """A container name, or the `compose:<project>/<service>` ref the executor resolves."""
    return ref.ref_name if ref.ref_kind == "container" else compose_ref(compose_project(env),
                                                                        ref.ref_name)


def _service_primitives(fault: AnyFault, env: Environment, services: tuple[str, ...],
                        action: str) -> list[Primitive]:
    """`action` (kill | stop | pause) on each service, in the environment's runtime."""
    if not services:
        raise FaultError(fault.target, f"resolve {fault.scenario}", "the topology lists no services")
    out: list[Primitive] = []
    for name in services:
        ref = _service_ref(fault, env, name)
        if ref.ref_kind == "process":
            if action == "pause":
                out.append(Primitive("process.stop", ref.ref_name))
            else:
                sig = "SIGKILL" if action == "kill" else "SIGTERM"
                out.append(Primitive("process.kill", ref.ref_name, {"signal": sig}))
            continue
        target = _container_target(env, ref)
        match action:
            case "kill":
                out.append(Primitive("docker.kill", target, {"signal": "SIGKILL"}))
            case "stop":
                out.append(Primitive("docker.stop", target, {"timeout_s": 10}))
            case _:
                out.append(Primitive("docker.pause", target))
    return out


def _redis_loss(fault: RedisLossFault, env: Environment) -> list[Primitive]:
    redis = env.topology.redis
    if redis is None:
        raise FaultError(fault.target, "resolve redis_loss", "the topology has no redis section")
    if fault.mode == "network":
        if not redis.proxies:
            raise FaultError(fault.target, "resolve redis_loss", "the redis topology lists no proxies")
        if fault.cut == "reset":  # reset_peer fires on the next chunk in each direction
            return [_toxic(fault, p, ResetPeer(0), s)
                    for p in redis.proxies for s in ("upstream", "downstream")]
        return [Primitive("toxiproxy.disable", p) for p in redis.proxies]
    return _service_primitives(fault, env, redis.services, fault.mode)


def _region_failover(fault: RegionFailoverFault, env: Environment) -> list[Primitive]:
    region = env.topology.regions.get(fault.target)
    if region is None:
        raise FaultError(fault.target, "resolve region_failover",
                         f"no region {fault.target!r} (known: {sorted(env.topology.regions)})")
    match fault.mode:
        case "network" if fault.via == "docker_network":
            return _network_disconnects(fault, env, region)
        case "network":
            if not region.proxies:
                raise FaultError(fault.target, "resolve region_failover", "the region lists no proxies")
            return [Primitive("toxiproxy.disable", p) for p in region.proxies]
        case "stop":
            return _service_primitives(fault, env, region.services, "stop")
    if region.drain is None or region.undrain is None:
        raise FaultError(fault.target, "resolve region_failover", "mode drain needs drain and undrain")

    def req(action: Any, where: str) -> dict[str, Any]:
        return {"method": action.method, "url": expand_env(action.url, where=where),
                "body": action.body, "expect_status": action.expect_status}

    drain = req(region.drain, f"topology.regions.{fault.target}.drain.url")
    undrain = req(region.undrain, f"topology.regions.{fault.target}.undrain.url")
    return [Primitive("http", drain["url"], {"apply": drain, "undo": undrain})]


def _network_disconnects(fault: RegionFailoverFault, env: Environment,
                         region: Region) -> list[Primitive]:
    """Each of the region's service containers cut from each of its Docker networks (the
    executor saves the aliases its reconnect restores)."""
    action = "resolve region_failover via docker_network"
    missing = [f"topology.regions.{fault.target}.{field}" for field in ("networks", "services")
               if not getattr(region, field)]
    if env.runtime.kind != "docker":
        missing.insert(0, f"runtime kind 'docker' (not {env.runtime.kind!r})")
    if missing:
        raise FaultError(fault.target, action, f"needs {' and '.join(missing)}")
    networks = [expand_env(n, where=f"topology.regions.{fault.target}.networks[{i}]")
                for i, n in enumerate(region.networks)]
    out: list[Primitive] = []
    for name in region.services:
        ref = _service_ref(fault, env, name)
        if ref.ref_kind == "process":
            raise FaultError(name, action, f"service {name!r} is a process, not a container")
        target = _container_target(env, ref)
        out += [Primitive("docker.disconnect", target, {"network": n}) for n in networks]
    return out
