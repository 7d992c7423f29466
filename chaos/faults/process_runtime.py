"""Process runtime: signals to the embedded testbed's processes, restart through its launcher."""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import TYPE_CHECKING

import anyio

from chaos.errors import FaultError, TestbedError
from chaos.faults.waiting import wait_until

if TYPE_CHECKING:
    from chaos.testbed.state import ComponentState


def process_state(pid: int) -> str | None:
    """The one-letter state from /proc/<pid>/stat (R, S, T, Z, ...), None when gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[-1].split()[0]


class ProcessRuntime:
    """Acts on the components listed in a testbed state file."""

    def __init__(self, state_file: str | Path, *, verify_timeout_s: float = 10.0,
                 restart_timeout_s: float = 15.0) -> None:
        self.state_file = Path(state_file).expanduser()
        self._verify_timeout_s = verify_timeout_s
        self._restart_timeout_s = restart_timeout_s

    def component(self, name: str) -> ComponentState:
        from chaos.testbed.state import load_state

        try:
            return load_state(self.state_file).components[name]
        except KeyError:
            raise FaultError(name, "process lookup",
                             f"no component {name!r} in {self.state_file}") from None
        except TestbedError as exc:
            raise FaultError(name, "process lookup", str(exc)) from None

    async def kill(self, name: str, sig: signal.Signals = signal.SIGKILL) -> int:
        """Send `sig` and wait until the process is gone; returns the pid it had."""
        from chaos.testbed.state import pid_alive

        comp = self.component(name)
        _signal(comp, sig, "kill")
        await wait_until(lambda: _async(not pid_alive(comp.pid, comp.argv)),
                         timeout_s=self._verify_timeout_s, target=name,
                         action=f"process {sig.name}", what=f"pid {comp.pid} gone")
        return comp.pid

    async def stop(self, name: str) -> int:
        """SIGSTOP and wait for state T; returns the pid."""
        comp = self.component(name)
        _signal(comp, signal.SIGSTOP, "stop")
        await wait_until(lambda: _async(process_state(comp.pid) in ("T", "t")),
                         timeout_s=self._verify_timeout_s, target=name, action="process SIGSTOP",
                         what=f"pid {comp.pid} in stopped state T")
        return comp.pid

    async def resume(self, name: str) -> None:
        """SIGCONT and wait until the process runs and its port answers."""
        from chaos.testbed.state import pid_alive

        comp = self.component(name)
        if pid_alive(comp.pid, comp.argv):
            _signal(comp, signal.SIGCONT, "resume")
        await self.wait_serving(name, comp, "process SIGCONT")

    async def ensure_running(self, name: str) -> None:
        """Restart the component through the testbed launcher unless it already runs; verify."""
        from chaos.testbed.state import component_alive, load_state, restart_component

        comp = self.component(name)
        if not component_alive(load_state(self.state_file), name):
            try:
                await anyio.to_thread.run_sync(
                    lambda: restart_component(self.state_file, name,
                                              timeout_s=self._restart_timeout_s))
            except TestbedError as exc:
                raise FaultError(name, "process restart", str(exc)) from None
            comp = self.component(name)
        await self.wait_serving(name, comp, "process restart")

    async def restart(self, name: str) -> None:
        """Broad revert: SIGCONT (a stopped process ignores SIGTERM), then re-spawn it."""
        from chaos.testbed.state import pid_alive, restart_component

        comp = self.component(name)
        if pid_alive(comp.pid, comp.argv):
            _signal(comp, signal.SIGCONT, "restart")
        try:
            await anyio.to_thread.run_sync(
                lambda: restart_component(self.state_file, name, timeout_s=self._restart_timeout_s))
        except TestbedError as exc:
            raise FaultError(name, "process restart", str(exc)) from None
        await self.wait_serving(name, self.component(name), "process restart")

    async def wait_serving(self, name: str, comp: ComponentState, action: str) -> None:
        from chaos.testbed.state import pid_alive, port_open

        async def serving() -> bool:
            state = process_state(comp.pid)
            return (pid_alive(comp.pid, comp.argv) and state not in ("T", "t")
                    and await anyio.to_thread.run_sync(port_open, comp.port))

        await wait_until(serving, timeout_s=self._verify_timeout_s, target=name, action=action,
                         what=f"pid {comp.pid} running and port {comp.port} accepting")


def _signal(comp: ComponentState, sig: signal.Signals, action: str) -> None:
    try:
        os.kill(comp.pid, sig)
    except ProcessLookupError:
        return  # already gone: the effect a kill wants; callers verify what they need
    except PermissionError as exc:
        raise FaultError(comp.name, f"process {action}", f"{sig.name} to pid {comp.pid}: {exc}") from None


async def _async(value: bool) -> bool:
    return value
