"""Preflight: before any traffic or fault, check that everything the drill needs is there."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import anyio
import httpx

from chaos.errors import ChaosError
from chaos.observe.canary import CanaryResult
from chaos.spec import Drill, Environment, expand_env
from chaos.spec.urls import join_url

HTTP_TIMEOUT_S = 3.0
CANARY_TIMEOUT_S = 20.0  # a whole chat stream; a stall shows after half of it


@dataclass(frozen=True, slots=True)
class CheckResult:
    """One preflight check: passed or not, one line of detail, and what was found/missing."""

    name: str  # "toxiproxy", "proxies", "docker", "containers", "processes", "target"
    ok: bool
    detail: str
    found: tuple[str, ...] = ()
    missing: tuple[str, ...] = ()

    def __str__(self) -> str:
        return f"{'ok' if self.ok else 'FAIL'} {self.name}: {self.detail}"


@dataclass(frozen=True, slots=True)
class PreflightReport:
    checks: tuple[CheckResult, ...]

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)

    @property
    def failures(self) -> tuple[CheckResult, ...]:
        return tuple(c for c in self.checks if not c.ok)

    def check(self, name: str) -> CheckResult | None:
        return next((c for c in self.checks if c.name == name), None)


def topology_proxies(env: Environment) -> tuple[str, ...]:
    """Every Toxiproxy proxy the environment's topology names, in file order, once each."""
    topo = env.topology
    names: list[str] = []
    for route in topo.providers.values():
        names.extend(route.proxies)
    if topo.redis is not None:
        names.extend(topo.redis.proxies)
    for region in topo.regions.values():
        names.extend(region.proxies)
    return tuple(dict.fromkeys(names))


async def run_preflight(drill: Drill, env: Environment) -> PreflightReport:
    """Run every check concurrently; each yields result lines (failures never raise)."""
    results: dict[int, list[CheckResult]] = {}

    async with httpx.AsyncClient(timeout=HTTP_TIMEOUT_S) as client:

        async def run(index: int, check: Callable[[Environment, httpx.AsyncClient],
                                                   Awaitable[list[CheckResult]]]) -> None:
            results[index] = await check(env, client)

        async with anyio.create_task_group() as tg:
            for index, check in enumerate((_toxiproxy_checks, _runtime_checks, _target_check,
                                           _canary_check, _metrics_check)):
                tg.start_soon(run, index, check)

            async def switches(env: Environment, client: httpx.AsyncClient) -> list[CheckResult]:
                return await _switch_checks(drill, env, client)

            tg.start_soon(run, 5, switches)
    return PreflightReport(tuple(r for i in sorted(results) for r in results[i]))


def _expand(value: str) -> str:
    try:
        return expand_env(value)
    except ChaosError as exc:
        raise _CheckFailed(str(exc).split(": ", 1)[-1]) from None


class _CheckFailed(Exception):
    pass


def _explain(exc: Exception) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


async def _toxiproxy_checks(env: Environment, client: httpx.AsyncClient) -> list[CheckResult]:
    wanted = topology_proxies(env)
    try:
        api = _expand(env.toxiproxy.api).rstrip("/")
        response = await client.get(f"{api}/version")
        response.raise_for_status()
        version = response.text.strip()
        listing = await client.get(f"{api}/proxies")
        listing.raise_for_status()
        existing = set(listing.json())
    except (httpx.HTTPError, ValueError, _CheckFailed) as exc:
        detail = f"Toxiproxy API {env.toxiproxy.api} not reachable ({_explain(exc)})"
        return [CheckResult("toxiproxy", False, detail),
                CheckResult("proxies", False, "not checked: Toxiproxy API unreachable",
                            missing=wanted)]
    found = tuple(p for p in wanted if p in existing)
    missing = tuple(p for p in wanted if p not in existing)
    if missing:
        detail = f"{len(missing)} of {len(wanted)} missing: {', '.join(missing)}"
        if found:
            detail += f" (found: {', '.join(found)})"
    else:
        detail = f"all {len(wanted)} found: {', '.join(found)}" if found else "none named"
    return [CheckResult("toxiproxy", True, f"{api} answers, version {version}"),
            CheckResult("proxies", not missing, detail, found, missing)]


async def _target_check(env: Environment, client: httpx.AsyncClient) -> list[CheckResult]:
    try:
        url = join_url(_expand(env.target.base_url), env.target.health_path)
        response = await client.get(url)
    except (httpx.HTTPError, _CheckFailed) as exc:
        return [CheckResult("target", False, f"{env.target.base_url}{env.target.health_path} "
                                             f"not reachable ({_explain(exc)})")]
    ok = response.status_code == 200
    return [CheckResult("target", ok, f"{url} answered {response.status_code}"
                        + ("" if ok else ", expected 200"))]


async def _canary_check(env: Environment, client: httpx.AsyncClient) -> list[CheckResult]:
    """One real chat request through the target's protocol: anything but a complete stream
    refuses the drill, with what the target said and what to look at."""
    from chaos.observe.canary import send_canary
    from chaos.run.plan import DEFAULT_REGION_HEADER, expand_headers

    target = env.target
    try:
        url = join_url(_expand(target.base_url), target.chat_path_resolved)
        token = (_expand(target.auth.token).replace("{subject}", "canary")
                 if target.auth else None)
        headers = expand_headers(target.headers, "target.headers")
        profile = target.profile()
    except (_CheckFailed, ChaosError) as exc:
        return [CheckResult("canary", False, str(exc))]
    result = await send_canary(client, url, profile, token=token, headers=headers,
                               region_header=target.region_header or DEFAULT_REGION_HEADER,
                               timeout_s=CANARY_TIMEOUT_S, stall_s=CANARY_TIMEOUT_S / 2)
    if result.ok and result.first_token_ms is not None:
        detail = f"{target.protocol} stream complete, first token {result.first_token_ms:.0f} ms"
        return [CheckResult("canary", True, detail)]
    if result.ok:  # complete by its marker, yet not one event read as content
        return [CheckResult("canary", False, (
            f"target answered {result.status} with a stream that held no content as "
            f"{target.protocol} reads it: is target.protocol right? (now {target.protocol})"))]
    return [CheckResult("canary", False, canary_refusal(result, target.protocol,
                                                        target.chat_path_resolved))]


HTTP_FAULT_MODES = frozenset({"http_errors", "stream_error", "stream_truncate", "stream_stall"})


def fault_switch_routes(drill: Drill, env: Environment) -> tuple[str, ...]:
    """The provider routes whose HTTP fault switch the drill's faults set."""
    routes = (f.target for f in drill.faults
              if f.scenario == "provider_outage" and getattr(f, "mode", None) in HTTP_FAULT_MODES)
    return tuple(dict.fromkeys(r for r in routes if r in env.topology.providers
                               and env.topology.providers[r].http_fault is not None))


async def _switch_checks(drill: Drill, env: Environment,
                         client: httpx.AsyncClient) -> list[CheckResult]:
    """Every fault switch the drill will set answers like one and is off: a switch left on
    (a run that died before its revert, someone's manual test) would break the baseline and
    be reverted by this drill as if it were its own."""
    from chaos.faults.http_action import describe_switch, read_switch

    routes = fault_switch_routes(drill, env)
    if not routes:
        return []
    problems: list[str] = []
    for route in routes:
        raw = env.topology.providers[route].http_fault
        assert raw is not None
        try:
            state = await read_switch(_expand(raw), client=client, action="preflight")
        except _CheckFailed as exc:
            problems.append(f"{route}: {exc}")
            continue
        except ChaosError as exc:  # FaultError: the URL is left out, it may carry a credential
            problems.append(f"{route}: {getattr(exc, 'detail', exc)}")
            continue
        if state is not None:
            problems.append(f"{route}: already on ({describe_switch(state)}), left by an earlier "
                            "run? `chaos cleanup`, or DELETE the switch, then run again")
    if problems:
        return [CheckResult("fault switches", False, "; ".join(problems), missing=routes)]
    return [CheckResult("fault switches", True,
                        f"{len(routes)} off and answering: {', '.join(routes)}", found=routes)]


# Logical series the criteria read, and what becomes INCONCLUSIVE without them.
_NEEDED_SERIES = (
    ("circuit_state", "limits.circuit_open and the circuit rollback trigger"),
    ("queue_oldest_age_s", "limits.queue_age and the queue rollback trigger"),
    ("active_region", "failover timings and gate M2's baseline-failover rule"),
)


async def _metrics_check(env: Environment, client: httpx.AsyncClient) -> list[CheckResult]:
    """One scrape: name every series a criterion needs that the target does not expose (such
    a criterion is INCONCLUSIVE, never PASS by absence). A missing series does not refuse."""
    from chaos.run.steady import _selector, metric_series

    if not env.metrics.scrape:
        return [CheckResult("metrics", True, "Prometheus API source: series checked per query")]
    found: list[str] = []
    missing: list[str] = []
    for logical, judged in _NEEDED_SERIES:
        name, labels = _selector(env, logical)
        try:
            series = await metric_series(client, env, name, labels)
        except ChaosError as exc:
            return [CheckResult("metrics", False, str(exc))]
        if series:
            found.append(f"{logical} ({len(series)} series)")
        else:
            missing.append(f"{logical} [{name}]: {judged} will be INCONCLUSIVE")
    detail = "found " + (", ".join(found) or "none")
    if missing:
        detail += "; MISSING " + "; ".join(missing)
    return [CheckResult("metrics", True, detail, tuple(found), tuple(missing))]


def canary_refusal(result: CanaryResult, protocol: str, chat_path: str) -> str:
    """One line: what the target answered, and what to fix."""
    said = []
    if result.status is None:
        said.append(result.failure or "no answer")
    else:
        said.append(str(result.status))
        if result.cls not in ("2xx", "4xx", "5xx", "429"):
            said.append(f"{result.cls} stream")
        elif result.cls == "429" and result.status != 429:
            said.append("rate-limited in-band (429)")
    if result.code:
        said.append(result.code)
    if result.message:
        said.append(f'"{result.message}"')
    hint = _HINTS.get(result.cls, "check the target")
    if result.status in (401, 403):
        hint = "is target.auth.token right?"
    elif result.status in (404, 405):
        hint = f"is target.chat_path right? (now {chat_path}, protocol {protocol})"
    return f"target answered {' '.join(said)}: {hint.format(protocol=protocol)}"


_HINTS = {
    "4xx": "is target.protocol right? (now {protocol})",
    "malformed": "the stream does not read as {protocol}: is target.protocol right? (now {protocol})",
    "truncated": ("the stream ended without the completion marker of {protocol}: "
                  "is target.protocol right? (now {protocol})"),
    "broken": "the stream ended with an in-band error before any fault: check the target",
    "stalled": "the stream stopped sending events: check the target",
    "5xx": "the target fails before any fault: check its health",
    "429": "the target sheds load before the drill starts: wait, or check its rate limits",
    "transport": "is target.base_url right, and the target up?",
}


async def _runtime_checks(env: Environment, client: httpx.AsyncClient) -> list[CheckResult]:
    del client  # the runtime checks talk to the engine or read the state file
    if env.runtime.kind == "process":
        return [_process_check(env)]
    return await anyio.to_thread.run_sync(_docker_checks, env)


def _process_check(env: Environment) -> CheckResult:
    from chaos.testbed.state import load_state, pid_alive

    assert env.runtime.kind == "process"
    try:
        state_path = Path(_expand(env.runtime.state_file)).expanduser()
        state = load_state(state_path)
    except (ChaosError, _CheckFailed) as exc:
        return CheckResult("processes", False, str(exc))
    names = [ref.process for ref in env.services.values() if ref.process is not None]
    found: list[str] = []
    missing: list[str] = []
    for name in names:
        comp = state.components.get(name)
        alive = comp is not None and pid_alive(comp.pid, comp.argv)
        (found if alive else missing).append(name)
    detail = (f"{len(missing)} of {len(names)} not running: {', '.join(missing)}" if missing
              else f"all {len(names)} running ({state_path})")
    return CheckResult("processes", not missing, detail, tuple(found), tuple(missing))


def _docker_checks(env: Environment) -> list[CheckResult]:
    import docker

    assert env.runtime.kind == "docker"
    runtime = env.runtime
    try:
        host = _expand(runtime.docker_host) if runtime.docker_host else None
        project = _expand(runtime.compose_project) if runtime.compose_project else None
        client = (docker.DockerClient(base_url=host, timeout=10) if host
                  else docker.from_env(timeout=10))
    except (docker.errors.DockerException, _CheckFailed) as exc:
        return [CheckResult("docker", False, f"Docker engine not reachable ({_explain(exc)})")]
    try:
        version = client.version().get("Version", "?")
        found: list[str] = []
        missing: list[str] = []
        for name, ref in env.services.items():
            if ref.container is not None:
                try:
                    container = client.containers.get(ref.container)
                    (found if container.status == "running" else missing).append(ref.container)
                except docker.errors.NotFound:
                    missing.append(ref.container)
            elif ref.compose_service is not None:
                labels = [f"com.docker.compose.service={ref.compose_service}"]
                if project:
                    labels.append(f"com.docker.compose.project={project}")
                matches = client.containers.list(filters={"label": labels, "status": "running"})
                (found if matches else missing).append(f"{name} (compose {ref.compose_service})")
    except (docker.errors.DockerException, OSError) as exc:
        return [CheckResult("docker", False, f"Docker engine not reachable ({_explain(exc)})")]
    finally:
        client.close()
    total = len(found) + len(missing)
    detail = (f"{len(missing)} of {total} not running: {', '.join(missing)}" if missing
              else f"all {total} running")
    return [CheckResult("docker", True, f"engine answers, version {version}"),
            CheckResult("containers", not missing, detail, tuple(found), tuple(missing))]


# Bytes a bundle takes, measured on testbed runs and rounded up: one load window per worker
# and second, one sample per series and interval (about ten series a source), one probe a
# second; evidence.json holds the recording again; report.html and summary.md; plotly.min.js.
_WINDOW_BYTES = 2_000
_SOURCE_BYTES_PER_SAMPLE = 2_000
_PROBE_BYTES = 300
_FIXED_BYTES = 512 * 1024  # inputs, phases, faults, journal, events, summary, junit, report.html
_PLOTLY_BYTES = 5 * 1024 * 1024
ROOM_MARGIN = 1.5


def estimate_bundle_bytes(*, seconds: float, workers: int, sample_interval_s: float,
                          sources: int) -> int:
    """What a run of `seconds` will write to its bundle, with a margin (ROOM_MARGIN)."""
    per_second = (workers * _WINDOW_BYTES + _PROBE_BYTES
                  + max(1, sources) * _SOURCE_BYTES_PER_SAMPLE / max(sample_interval_s, 0.05))
    recorded = per_second * max(seconds, 1.0)
    return int((2 * recorded + _FIXED_BYTES) * ROOM_MARGIN) + _PLOTLY_BYTES


def check_evidence_room(evidence_dir: Path, need_bytes: int) -> CheckResult:
    """The evidence directory takes a file and has room for `need_bytes` (exit 4 otherwise)."""
    import os
    import tempfile

    mb = need_bytes / 1e6
    try:
        evidence_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=evidence_dir, prefix=".chaos-room-check-"):
            pass
        stat = os.statvfs(evidence_dir)
    except OSError as exc:
        return CheckResult("evidence", False, f"evidence directory {evidence_dir} is not "
                           f"writable ({exc.strerror or type(exc).__name__}): choose another "
                           "--evidence-dir")
    free = stat.f_bavail * stat.f_frsize
    if free < need_bytes:
        return CheckResult("evidence", False, (
            f"evidence directory {evidence_dir} has {free / 1e6:.1f} MB free, the bundle "
            f"needs about {mb:.1f} MB: free space or choose another --evidence-dir"))
    return CheckResult("evidence", True, f"{evidence_dir}: {free / 1e6:.1f} MB free, about "
                       f"{mb:.1f} MB needed")
