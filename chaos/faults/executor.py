"""The executor: prepares, applies, verifies and reverts primitives against real components."""

from __future__ import annotations

import signal
from dataclasses import replace
from types import TracebackType

from chaos.errors import ComponentStateLost, FaultError, ToxiproxyError
from chaos.faults.docker_runtime import DockerRuntime
from chaos.faults.http_action import HttpRequest, describe_switch, read_switch, send_http
from chaos.faults.primitives import Primitive, Targets
from chaos.faults.process_runtime import ProcessRuntime
from chaos.faults.toxics import spec_from_attributes
from chaos.faults.toxiproxy import ToxiproxyClient
from chaos.faults.waiting import wait_until


class Executor:
    """Owns the clients of one `Targets` set; every method raises FaultError on failure."""

    def __init__(self, targets: Targets, *, verify_timeout_s: float = 10.0,
                 docker_call_timeout_s: float = 20.0) -> None:
        self.targets = targets
        self._verify_timeout_s = verify_timeout_s
        self._docker_call_timeout_s = docker_call_timeout_s
        self._toxiproxy: ToxiproxyClient | None = None
        self._docker: DockerRuntime | None = None
        self._process: ProcessRuntime | None = None

    async def __aenter__(self) -> Executor:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        if self._toxiproxy is not None:
            await self._toxiproxy.aclose()
        if self._docker is not None:
            self._docker.close()

    @property
    def toxiproxy(self) -> ToxiproxyClient:
        if self._toxiproxy is None:
            if not self.targets.toxiproxy_api:
                raise FaultError("toxiproxy", "connect", "the environment names no Toxiproxy API")
            self._toxiproxy = ToxiproxyClient(self.targets.toxiproxy_api)
        return self._toxiproxy

    @property
    def docker(self) -> DockerRuntime:
        if self._docker is None:
            self._docker = DockerRuntime(self.targets.docker_host,
                                         verify_timeout_s=self._verify_timeout_s,
                                         call_timeout_s=self._docker_call_timeout_s)
        return self._docker

    @property
    def process(self) -> ProcessRuntime:
        if self._process is None:
            if not self.targets.state_file:
                raise FaultError("process", "connect", "the environment names no testbed state file")
            self._process = ProcessRuntime(self.targets.state_file,
                                           verify_timeout_s=self._verify_timeout_s)
        return self._process

    # -- prepare -------------------------------------------------------------------

    async def prepare(self, p: Primitive) -> list[Primitive]:
        """Concrete primitives for `p`: compose refs become containers, a network disconnect
        saves the aliases its reconnect will need. Reads state only; changes nothing."""
        if not p.kind.startswith("docker."):
            if p.kind.startswith("process."):
                comp = self.process.component(p.target)  # fails early on an unknown component
                return [replace(p, params={**p.params, "pid": comp.pid})]
            return [p]
        if p.kind == "docker.disconnect" and "aliases" in p.params:
            return [p]  # already prepared (its aliases saved)
        out: list[Primitive] = []
        for name in await self.docker.resolve(p.target):
            if p.kind != "docker.disconnect":
                out.append(replace(p, target=name))
                continue
            wanted = p.params.get("network")
            for network in [wanted] if wanted else await self.docker.networks(name):
                aliases = await self.docker.network_aliases(name, network)
                out.append(Primitive("docker.disconnect", name,
                                     {"network": network, "aliases": aliases}))
        return out

    # -- apply -----------------------------------------------------------------------

    async def apply(self, p: Primitive) -> None:
        """Apply and verify the effect from the component's own state."""
        match p.kind:
            case "toxiproxy.disable":
                # The answer is the proxy's state after the change: poll only if it disagrees.
                if (await self.toxiproxy.disable(p.target)).enabled:
                    await self._wait_proxy(p.target, "disable", enabled=False)
            case "toxiproxy.toxic":
                name = str(p.params["name"])
                spec = spec_from_attributes(str(p.params["type"]), p.params["attributes"])
                toxic = await self.toxiproxy.add_toxic(
                    p.target, name, spec, stream=p.params.get("stream", "downstream"),
                    toxicity=float(p.params.get("toxicity", 1.0)))
                if toxic.name != name or toxic.spec != spec:
                    await self._wait_toxic(p.target, name, present=True)
            case "docker.stop":
                await self.docker.stop(p.target, timeout_s=int(p.params.get("timeout_s", 10)))
            case "docker.kill":
                await self.docker.kill(p.target, signal.Signals[p.params.get("signal", "SIGKILL")])
            case "docker.pause":
                await self.docker.pause(p.target)
            case "docker.disconnect":
                await self.docker.disconnect(p.target, str(p.params["network"]))
            case "process.kill":
                await self.process.kill(p.target, signal.Signals[p.params.get("signal", "SIGKILL")])
            case "process.stop":
                await self.process.stop(p.target)
            case "http":
                await send_http(HttpRequest.from_json(p.params["apply"]), action="apply")
                await self._verify_switch(p, "apply")

    # -- revert ----------------------------------------------------------------------

    async def revert(self, p: Primitive) -> None:
        """The targeted undo, verified. Undoing something that never took effect is harmless."""
        match p.kind:
            case "toxiproxy.disable":
                try:
                    enabled = (await self.toxiproxy.enable(p.target)).enabled
                except ToxiproxyError as exc:
                    raise self._lost_proxy(p, exc) from None
                if not enabled:
                    await self._wait_proxy(p.target, "enable", enabled=True)
            case "toxiproxy.toxic":
                name = str(p.params["name"])
                try:
                    await self.toxiproxy.get_proxy(p.target)
                except ToxiproxyError as exc:
                    raise self._lost_proxy(p, exc) from None
                await self.toxiproxy.delete_toxic(p.target, name)
                await self._wait_toxic(p.target, name, present=False)
            case "docker.stop" | "docker.kill":
                await self.docker.start(p.target)
            case "docker.pause":
                await self.docker.unpause(p.target)
            case "docker.disconnect":
                await self.docker.connect(p.target, str(p.params["network"]),
                                          list(p.params.get("aliases") or []))
            case "process.kill":
                await self.process.ensure_running(p.target)
            case "process.stop":
                await self.process.resume(p.target)
            case "http":
                await send_http(HttpRequest.from_json(p.params["undo"]), action="revert")
                await self._verify_switch(p, "revert")

    async def revert_broad(self, p: Primitive) -> None:
        """The fallback when the targeted undo keeps failing: Toxiproxy `POST /reset`, a
        container or process restart. Verified like the targeted one."""
        match p.kind:
            case "toxiproxy.disable":
                await self.toxiproxy.reset()
                await self._wait_proxy(p.target, "reset", enabled=True)
            case "toxiproxy.toxic":
                await self.toxiproxy.reset()
                await self._wait_toxic(p.target, str(p.params["name"]), present=False)
            case "docker.disconnect":
                await self.docker.connect(p.target, str(p.params["network"]),
                                          list(p.params.get("aliases") or []))
                await self.docker.restart(p.target)
            case "docker.stop" | "docker.kill" | "docker.pause":
                await self.docker.restart(p.target)
            case "process.kill" | "process.stop":
                await self.process.restart(p.target)
            case "http":
                await send_http(HttpRequest.from_json(p.params["undo"]), retries=5,
                                action="revert")
                await self._verify_switch(p, "revert")

    def _lost_proxy(self, p: Primitive, exc: ToxiproxyError) -> FaultError:
        """A 404 for the proxy itself: Toxiproxy answers but lost it (restarted without its
        proxies), which no retry mends; any other failure as it came."""
        if "HTTP 404" not in exc.detail:
            return exc
        return ComponentStateLost(
            p.target, f"revert {p.kind}",
            f"Toxiproxy at {self.targets.toxiproxy_api} answers but has no proxy {p.target} "
            "(restarted without its proxies?): the fault is not in effect, and neither is the "
            "link; recreate the proxies (the embedded testbed: `chaos testbed down`, then `up`), then run `chaos "
            "cleanup` again")

    # -- verification ----------------------------------------------------------------

    async def _verify_switch(self, p: Primitive, action: str) -> None:
        """Read a fault switch back, as toxics are: after apply it must answer the fault that
        was sent (as the switch normalises it), after revert `fault: null`. A primitive
        without `verify` (an operator's own drain/undrain action) is proved by status only."""
        verify = p.params.get("verify")
        if not verify:
            return
        url = str(verify["url"])
        want = verify["applied"] if action == "apply" else None
        seen: list[object] = []

        async def check() -> bool:
            seen[:] = [await read_switch(url, action=f"verify {action}")]
            return seen[0] == want

        timeout_s = min(self._verify_timeout_s, 5.0)
        try:
            await wait_until(check, timeout_s=timeout_s, target=url,
                             action=f"{action} fault switch", what="")
        except FaultError as exc:
            if not seen or "not verified" not in exc.detail:
                raise
            raise FaultError(url, f"{action} fault switch",
                             f"not verified after {timeout_s:g}s: the switch answers "
                             f"{describe_switch(seen[0])}, expected {describe_switch(want)}") from None

    async def _wait_proxy(self, proxy: str, action: str, *, enabled: bool) -> None:
        async def check() -> bool:
            return (await self.toxiproxy.get_proxy(proxy)).enabled is enabled

        await wait_until(check, timeout_s=self._verify_timeout_s, target=proxy,
                         action=f"toxiproxy {action}", what=f"proxy enabled={enabled}")

    async def _wait_toxic(self, proxy: str, name: str, *, present: bool) -> None:
        async def check() -> bool:
            try:
                names = {t.name for t in await self.toxiproxy.toxics(proxy)}
            except ToxiproxyError as exc:
                if not present and "HTTP 404" in exc.detail:
                    return True  # the proxy itself is gone, and its toxics with it
                raise
            return (name in names) is present

        await wait_until(check, timeout_s=self._verify_timeout_s, target=proxy,
                         action=f"toxiproxy toxic {name}",
                         what=f"toxic {'present' if present else 'gone'}")
