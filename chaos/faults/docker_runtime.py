"""Docker runtime: container actions through the Docker SDK in worker threads, each verified
from the engine's state with a deadline."""

from __future__ import annotations

import signal
from collections.abc import Callable
from typing import Any, TypeVar

import anyio

from chaos.errors import DockerError
from chaos.faults.waiting import wait_until

T = TypeVar("T")
COMPOSE_PREFIX = "compose:"


def compose_ref(project: str | None, service: str) -> str:
    """The primitive target naming a compose service (resolved to containers when applied)."""
    return f"{COMPOSE_PREFIX}{project or ''}/{service}"


class DockerRuntime:
    """One Docker engine. Targets are container names or `compose:<project>/<service>` refs.

    Traps handled: `stop` gets an HTTP timeout longer than its grace period; a reconnect passes
    the aliases saved before the disconnect; `start` waits for a health check to pass when the
    container has one (a paused container turns unhealthy).
    """

    def __init__(self, docker_host: str | None = None, *, http_timeout_s: float = 30.0,
                 verify_timeout_s: float = 15.0, call_timeout_s: float = 20.0) -> None:
        self._docker_host = docker_host
        self._http_timeout_s = http_timeout_s
        self._verify_timeout_s = verify_timeout_s
        # Every engine call is bounded: a frozen dockerd (or a container's frozen runtime)
        # accepts the connection and never answers; the SDK's socket timeout alone is too long.
        self._call_timeout_s = call_timeout_s
        self._client: Any = None

    def _engine(self) -> Any:
        if self._client is None:
            import docker  # heavy; imported where used

            if self._docker_host:
                self._client = docker.DockerClient(base_url=self._docker_host,
                                                   timeout=int(self._http_timeout_s))
            else:
                self._client = docker.from_env(timeout=int(self._http_timeout_s))
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    async def _run(self, target: str, action: str, fn: Callable[[], T], *,
                   extra_s: float = 0.0) -> T:
        """`fn` in a worker thread, bounded by the call timeout (+ `extra_s`, a stop's grace
        period): DockerError naming the target and action for any engine failure or silence."""
        import docker.errors
        import requests

        bound = self._call_timeout_s + extra_s
        try:
            with anyio.fail_after(bound):
                # A hung engine call cannot be interrupted: the thread is left to its socket
                # timeout, the run goes on.
                return await anyio.to_thread.run_sync(fn, abandon_on_cancel=True)
        except TimeoutError:
            raise DockerError(target, action, f"the Docker engine did not answer within {bound:g}s "
                              "(dockerd or the container's runtime hung?)") from None
        except docker.errors.NotFound as exc:
            raise DockerError(target, action, f"not found: {_explain(exc)}") from None
        except docker.errors.DockerException as exc:
            raise DockerError(target, action, _explain(exc)) from None
        except (requests.exceptions.RequestException, OSError) as exc:
            raise DockerError(target, action, f"Docker engine not reachable: {_explain(exc)}") from None

    # -- lookup --------------------------------------------------------------------

    async def resolve(self, ref: str) -> list[str]:
        """Container names for a target: the name itself, or every container (running or not)
        of a compose project/service."""
        if not ref.startswith(COMPOSE_PREFIX):
            return [ref]
        project, _, service = ref[len(COMPOSE_PREFIX):].partition("/")
        labels = [f"com.docker.compose.service={service}"]
        if project:
            labels.append(f"com.docker.compose.project={project}")

        def find() -> list[str]:
            found = self._engine().containers.list(all=True, filters={"label": labels})
            return sorted(c.name for c in found)

        names = await self._run(ref, "resolve", find)
        if not names:
            raise DockerError(ref, "resolve", "no container carries these compose labels")
        return names

    async def inspect(self, name: str) -> dict[str, Any]:
        def get() -> dict[str, Any]:
            return dict(self._engine().api.inspect_container(name))

        return await self._run(name, "inspect", get)

    async def status(self, name: str) -> str:
        return str((await self.inspect(name))["State"]["Status"])

    async def network_aliases(self, name: str, network: str) -> list[str]:
        """The user-given aliases of `name` on `network` (without Docker's own id alias)."""
        info = await self.inspect(name)
        net = info["NetworkSettings"]["Networks"].get(network)
        if net is None:
            raise DockerError(name, "inspect network", f"not connected to {network}")
        short_id = info["Id"][:12]
        return [a for a in (net.get("Aliases") or []) if a != short_id]

    async def networks(self, name: str) -> list[str]:
        return sorted((await self.inspect(name))["NetworkSettings"]["Networks"])

    async def _wait_status(self, name: str, action: str, wanted: tuple[str, ...]) -> None:
        async def check() -> bool:
            return await self.status(name) in wanted

        await wait_until(check, timeout_s=self._verify_timeout_s, target=name,
                         action=f"docker {action}", what=f"status in {wanted}")

    # -- actions -------------------------------------------------------------------

    async def stop(self, name: str, *, timeout_s: int = 10) -> None:
        # docker-py adds `timeout` to the HTTP timeout of a stop, so a long grace period
        # cannot outlast the client's read timeout.
        await self._run(name, "stop",
                        lambda: self._engine().api.stop(name, timeout=timeout_s), extra_s=timeout_s)
        await self._wait_status(name, "stop", ("exited", "dead"))

    async def kill(self, name: str, sig: signal.Signals = signal.SIGKILL) -> None:
        await self._run(name, f"kill {sig.name}",
                        lambda: self._engine().api.kill(name, signal=sig.name))
        if sig in (signal.SIGKILL, signal.SIGTERM, signal.SIGINT):
            await self._wait_status(name, f"kill {sig.name}", ("exited", "dead"))

    async def pause(self, name: str) -> None:
        await self._run(name, "pause", lambda: self._engine().api.pause(name))
        await self._wait_status(name, "pause", ("paused",))

    async def unpause(self, name: str) -> None:
        """Unpause; a container that is not paused (any more) counts as done when it runs."""
        if await self.status(name) == "paused":
            await self._run(name, "unpause", lambda: self._engine().api.unpause(name))
        await self.wait_running(name, "unpause")

    async def start(self, name: str) -> None:
        """Start unless running (a paused one is unpaused); wait running and healthy."""
        status = await self.status(name)
        if status == "paused":
            await self._run(name, "unpause", lambda: self._engine().api.unpause(name))
        elif status != "running":
            await self._run(name, "start", lambda: self._engine().api.start(name))
        await self.wait_running(name, "start")

    async def restart(self, name: str, *, timeout_s: int = 5) -> None:
        """Broad revert: unpause if needed, then restart; wait running and healthy."""
        if await self.status(name) == "paused":
            await self._run(name, "unpause", lambda: self._engine().api.unpause(name))
        await self._run(name, "restart",
                        lambda: self._engine().api.restart(name, timeout=timeout_s), extra_s=timeout_s)
        await self.wait_running(name, "restart")

    async def disconnect(self, name: str, network: str) -> None:
        await self._run(name, f"disconnect {network}", lambda: self._engine().api.disconnect_container_from_network(name, network, force=True))

        async def gone() -> bool:
            return network not in await self.networks(name)

        await wait_until(gone, timeout_s=self._verify_timeout_s, target=name,
                         action=f"docker disconnect {network}", what="network detached")

    async def connect(self, name: str, network: str, aliases: list[str]) -> None:
        """Reconnect with the aliases saved before the disconnect (Docker drops them otherwise)."""
        if network not in await self.networks(name):
            await self._run(name, f"connect {network}", lambda: self._engine().api.connect_container_to_network(name, network, aliases=aliases or None))

        async def attached() -> bool:
            info = await self.inspect(name)
            net = info["NetworkSettings"]["Networks"].get(network)
            return net is not None and set(aliases) <= set(net.get("Aliases") or [])

        await wait_until(attached, timeout_s=self._verify_timeout_s, target=name,
                         action=f"docker connect {network}", what=f"attached with aliases {aliases}")

    async def wait_running(self, name: str, action: str) -> None:
        """Running, and healthy when the container has a health check."""
        async def check() -> bool:
            state = (await self.inspect(name))["State"]
            if state["Status"] != "running":
                return False
            health = state.get("Health")
            return health is None or health.get("Status") == "healthy"

        await wait_until(check, timeout_s=self._verify_timeout_s, target=name,
                         action=f"docker {action}", what="running and healthy")


def _explain(exc: Exception) -> str:
    text = getattr(exc, "explanation", None) or str(exc)
    return " ".join(str(text).split())[:300]
