"""The testbed as a docker compose stack (`chaos testbed up/down/status --runtime docker`).

Wraps `docker compose` (v2 plugin) or Debian's `docker-compose` (v1) over
compose/docker-compose.yml, plus compose/docker-compose.offline.yml and
compose/build-offline.sh where no registry is reachable. State is read from the engine
through the compose labels, never from a file.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chaos.errors import TestbedError

DEFAULT_PROJECT = "chaos-testbed"
SERVICES: tuple[str, ...] = (
    "redis", "toxiproxy", "provider-primary", "provider-fallback",
    "gateway-us-east", "gateway-us-west", "router",
)
# Published port of each service (host side, 127.0.0.1), moved by CHAOS_COMPOSE_<NAME>_PORT.
DEFAULT_PORTS: dict[str, int] = {
    "redis": 16379, "toxiproxy": 18474, "provider-primary": 18091, "provider-fallback": 18092,
    "gateway-us-east": 18081, "gateway-us-west": 18082, "router": 18080,
}
PROJECT_LABEL = "com.docker.compose.project"
SERVICE_LABEL = "com.docker.compose.service"


def port_variable(service: str) -> str:
    """The compose variable that moves `service`'s published port."""
    return f"CHAOS_COMPOSE_{service.upper().replace('-', '_')}_PORT"


def project_from_env() -> str:
    """CHAOS_COMPOSE_PROJECT, else chaos-testbed (environments/compose.yaml uses the same)."""
    return os.environ.get("CHAOS_COMPOSE_PROJECT") or DEFAULT_PROJECT


def offline_from_env() -> bool:
    """CHAOS_OFFLINE=1 (or true/yes) selects the offline images."""
    return os.environ.get("CHAOS_OFFLINE", "").strip().lower() in ("1", "true", "yes")


def default_compose_dir() -> Path:
    """CHAOS_COMPOSE_DIR, else the compose/ directory of the checkout this package runs from."""
    configured = os.environ.get("CHAOS_COMPOSE_DIR")
    if configured:
        return Path(configured).expanduser()
    return Path(__file__).resolve().parents[2] / "compose"


@dataclass(frozen=True)
class ComposeStack:
    """Which stack: project name, offline or registry images, published ports."""

    project: str = field(default_factory=project_from_env)
    offline: bool = field(default_factory=offline_from_env)
    compose_dir: Path = field(default_factory=default_compose_dir)
    ports: Mapping[str, int] = field(default_factory=dict)  # service -> host port overrides

    def files(self) -> list[Path]:
        names = ["docker-compose.yml"] + (["docker-compose.offline.yml"] if self.offline else [])
        paths = [self.compose_dir / n for n in names]
        missing = [str(p) for p in paths if not p.is_file()]
        if missing:
            raise TestbedError(f"compose file not found: {', '.join(missing)} (set CHAOS_COMPOSE_DIR "
                               "to the repository's compose/ directory)")
        return paths

    def host_port(self, service: str) -> int:
        return self.ports.get(service, DEFAULT_PORTS[service])

    def env(self) -> dict[str, str]:
        # COMPOSE_PROJECT_NAME also names the containers (<project>-<service>, see the file).
        env = dict(os.environ, COMPOSE_PROJECT_NAME=self.project)
        for service, port in self.ports.items():
            if service not in DEFAULT_PORTS:
                raise TestbedError(f"no published port for compose service {service!r}")
            env[port_variable(service)] = str(port)
        return env


@dataclass(frozen=True)
class ServiceStatus:
    """One compose service's container as the engine reports it."""

    service: str
    container: str | None  # None: no container exists for the service
    state: str  # running, exited, paused, created, ... or "missing"
    health: str | None  # healthy, unhealthy, starting; None without a healthcheck
    networks: Mapping[str, tuple[str, ...]]  # network -> aliases

    @property
    def ready(self) -> bool:
        return self.state == "running" and self.health in (None, "healthy")


@dataclass(frozen=True)
class StackStatus:
    project: str
    services: tuple[ServiceStatus, ...]

    @property
    def healthy(self) -> bool:
        return all(s.ready for s in self.services)

    def service(self, name: str) -> ServiceStatus:
        for s in self.services:
            if s.service == name:
                return s
        raise KeyError(name)


def compose_command() -> list[str]:
    """`docker compose` when the v2 plugin answers, else `docker-compose` (Debian's v1)."""
    docker = shutil.which("docker")
    if docker is not None:
        probe = subprocess.run([docker, "compose", "version"], capture_output=True, check=False)
        if probe.returncode == 0:
            return [docker, "compose"]
    legacy = shutil.which("docker-compose")
    if legacy is not None:
        return [legacy]
    raise TestbedError("no compose tool: install the docker compose plugin or Debian's "
                       "docker-compose (compose/build-offline.sh installs the latter)")


def run_compose(stack: ComposeStack, *args: str, timeout_s: float = 300) -> str:
    """Run one compose command for `stack`; a failure is a TestbedError with its output."""
    argv = [*compose_command(), "-p", stack.project]
    for path in stack.files():
        argv += ["-f", str(path)]
    argv += list(args)
    try:
        done = subprocess.run(argv, env=stack.env(), capture_output=True, text=True,
                              timeout=timeout_s, check=False)
    except subprocess.TimeoutExpired:
        raise TestbedError(f"`{' '.join(argv)}` did not finish in {timeout_s:.0f}s") from None
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip()[-2000:]
        raise TestbedError(f"`{' '.join(args[:1])}` of compose project {stack.project} failed "
                           f"(exit {done.returncode}): {tail}")
    return done.stdout


def build_offline_images(stack: ComposeStack, timeout_s: float = 900) -> None:
    """Run compose/build-offline.sh (idempotent: seconds when nothing changed)."""
    script = stack.compose_dir / "build-offline.sh"
    try:
        done = subprocess.run(["bash", str(script)], capture_output=True, text=True,
                              timeout=timeout_s, check=False)
    except subprocess.TimeoutExpired:
        raise TestbedError(f"{script} did not finish in {timeout_s:.0f}s") from None
    if done.returncode != 0:
        raise TestbedError(f"{script} failed (exit {done.returncode}): {done.stderr.strip()[-2000:]}")


def _docker_client() -> Any:
    import docker  # heavy optional import, only for the docker runtime

    try:
        client = docker.from_env(timeout=30)
        client.ping()
    except Exception as exc:  # the engine's many error types all mean "not reachable"
        raise TestbedError(f"Docker engine not reachable: {exc}") from None
    return client


def docker_status(stack: ComposeStack | None = None) -> StackStatus:
    """State, health and network aliases of every service's container, from the engine."""
    stack = stack or ComposeStack()
    client = _docker_client()
    try:
        containers = client.containers.list(
            all=True, filters={"label": f"{PROJECT_LABEL}={stack.project}"})
        by_service: dict[str, Any] = {c.labels.get(SERVICE_LABEL, ""): c for c in containers}
        out = []
        for name in SERVICES:
            c = by_service.get(name)
            if c is None:
                out.append(ServiceStatus(name, None, "missing", None, {}))
                continue
            state = c.attrs["State"]
            nets = c.attrs["NetworkSettings"]["Networks"] or {}
            out.append(ServiceStatus(
                name, c.name, "paused" if state.get("Paused") else state["Status"],
                (state.get("Health") or {}).get("Status"),
                {n: tuple(v.get("Aliases") or ()) for n, v in nets.items()}))
        return StackStatus(stack.project, tuple(out))
    finally:
        client.close()


def wait_stack_healthy(stack: ComposeStack, timeout_s: float = 180) -> StackStatus:
    """Poll until every service runs and passes its healthcheck; fail at once on an exit."""
    deadline = time.monotonic() + timeout_s
    status = docker_status(stack)
    while not status.healthy:
        # After `up` returned every container was started: one that has stopped crashed.
        dead = [s for s in status.services if s.state in ("exited", "dead", "missing")]
        if dead:
            raise TestbedError(f"compose project {stack.project}: "
                               + ", ".join(f"{s.service} is {s.state}" for s in dead))
        if time.monotonic() > deadline:
            waiting = [f"{s.service} ({s.state}, {s.health})" for s in status.services if not s.ready]
            raise TestbedError(f"compose project {stack.project} not healthy after "
                               f"{timeout_s:.0f}s: {', '.join(waiting)}")
        time.sleep(0.5)
        status = docker_status(stack)
    return status


def docker_up(stack: ComposeStack | None = None, *, build: bool = True,
              timeout_s: float = 180) -> StackStatus:
    """Bring the stack up and wait for every healthcheck (offline: build the images first)."""
    stack = stack or ComposeStack()
    if stack.offline:
        if build:
            build_offline_images(stack)
        run_compose(stack, "up", "-d", "--no-build", timeout_s=timeout_s)
    else:
        run_compose(stack, "up", "-d", *(["--build"] if build else []), timeout_s=max(timeout_s, 900))
    return wait_stack_healthy(stack, timeout_s)


def docker_down(stack: ComposeStack | None = None, *, timeout_s: float = 120) -> None:
    """Remove the stack's containers, networks and volumes; verify nothing is left."""
    stack = stack or ComposeStack()
    run_compose(stack, "down", "--volumes", "--remove-orphans", "--timeout", "5",
                timeout_s=timeout_s)
    left = leftovers(stack.project)
    if left:
        raise TestbedError(f"compose project {stack.project} left behind: {', '.join(left)}")


def leftovers(project: str) -> list[str]:
    """Containers, networks and volumes still labelled with `project`."""
    client = _docker_client()
    try:
        flt = {"label": f"{PROJECT_LABEL}={project}"}
        return ([f"container {c.name}" for c in client.containers.list(all=True, filters=flt)]
                + [f"network {n.name}" for n in client.networks.list(filters=flt)]
                + [f"volume {v.name}" for v in client.volumes.list(filters=flt)])
    finally:
        client.close()
