"""`ControlWatch`: inside a run's task group, polls for abort requests from other terminals
and the environment's kill switch, and waits in hold points until `chaos resume` (or Enter)."""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Callable
from typing import Any

import anyio
import httpx
from rich.console import Console
from rich.markup import escape

from chaos.control.lock import EnvironmentLock
from chaos.control.requests import by_whom, read_json, remove, who, write_json
from chaos.control.switch import kill_switch_reason
from chaos.spec import Environment

POLL_S = 1.0  # abort requests and a file switch
URL_POLL_S = 3.0  # a URL switch (each request bounded by its own timeout)
RESUME_POLL_S = 0.25

EventSink = Callable[..., None]  # (kind, message, **detail): the bundle's event log


class ControlWatch:
    """Fires `fired` (with `reason`) on an abort request, a set kill switch or a hold that
    timed out; the run then stops like on an abort condition."""

    def __init__(self, env: Environment, lock: EnvironmentLock, *, on_event: EventSink,
                 console: Console, hold_timeout_s: float = 600.0,
                 poll_s: float = POLL_S, url_poll_s: float = URL_POLL_S) -> None:
        self._env, self._lock, self._on_event, self._console = env, lock, on_event, console
        self.hold_timeout_s = hold_timeout_s
        self._poll_s, self._url_poll_s = poll_s, url_poll_s
        self.fired = anyio.Event()
        self.reason = ""

    def stop(self, reason: str) -> None:
        if not self.fired.is_set():
            self.reason = reason
            self.fired.set()

    async def run(self) -> None:
        switch = self._env.guardrails.kill_switch
        next_url = 0.0
        async with httpx.AsyncClient() as client:
            while not self.fired.is_set():
                self._check_abort_request()
                if switch is not None and (switch.file is not None or time.monotonic() >= next_url):
                    if switch.url is not None:
                        next_url = time.monotonic() + self._url_poll_s
                    reason = await kill_switch_reason(self._env, client)
                    if reason:
                        self._on_event("kill_switch", reason)
                        self.stop(reason)
                await anyio.sleep(self._poll_s)

    def _check_abort_request(self) -> None:
        doc = read_json(self._lock.control_file("abort"))
        if doc is None or float(doc.get("at", 0)) < self._lock.holder.started_at:
            return
        asked = str(doc.get("reason") or "")
        reason = f"abort requested by {by_whom(doc)}" + (f": {asked}" if asked else "")
        self._on_event("abort_requested", reason, user=doc.get("user"), host=doc.get("host"),
                       pid=doc.get("pid"), at=doc.get("at"), reason=asked)
        self.stop(reason)

    async def hold(self, fault_id: str, description: str) -> bool:
        """Wait before a fault until resumed (True); on timeout stop the run (False)."""
        since = time.time()
        hold_file, resume_file = self._lock.control_file("hold"), self._lock.control_file("resume")
        write_json(hold_file, {"fault_id": fault_id, "description": description, "since": since,
                               "timeout_s": self.hold_timeout_s, "pid": self._lock.holder.pid})
        enter = sys.stdin is not None and sys.stdin.isatty()
        self._console.print(f"[bold yellow]HOLD[/] before fault {escape(fault_id)}: {escape(description)}; "
                            f"the load keeps running. Resume with `chaos resume --env {escape(self._env.name)}`"
                            + (" or press Enter" if enter else "")
                            + f" (aborts in {self.hold_timeout_s:g}s)", highlight=False)
        self._on_event("hold", f"holding before fault {fault_id}: {description}", fault_id=fault_id,
                       timeout_s=self.hold_timeout_s)
        resumed: list[dict[str, Any]] = []
        try:
            with anyio.move_on_after(self.hold_timeout_s):
                async with anyio.create_task_group() as tg:

                    async def poll_resume() -> None:
                        while True:
                            doc = read_json(resume_file)
                            if doc is not None and float(doc.get("at", 0)) >= since:
                                remove(resume_file)
                                resumed.append(doc | {"via": "chaos resume"})
                                tg.cancel_scope.cancel()
                                return
                            await anyio.sleep(RESUME_POLL_S)

                    async def wait_enter() -> None:
                        await anyio.wait_readable(sys.stdin.fileno())
                        with contextlib.suppress(OSError, ValueError):
                            sys.stdin.readline()
                        resumed.append(who() | {"via": "Enter"})
                        tg.cancel_scope.cancel()

                    tg.start_soon(poll_resume)
                    if enter:
                        tg.start_soon(wait_enter)
        finally:
            remove(hold_file)
        if resumed:
            doc = resumed[0]
            self._on_event("resumed", f"fault {fault_id} resumed by {doc.get('user')}@{doc.get('host')} "
                           f"({doc.get('via')}) after {time.time() - since:.1f}s", fault_id=fault_id,
                           user=doc.get("user"), host=doc.get("host"), at=doc.get("at"), via=doc.get("via"))
            self._console.print(f"[bold green]RESUMED[/] fault {escape(fault_id)} "
                                f"by {escape(str(doc.get('user')))}@{escape(str(doc.get('host')))}",
                                highlight=False)
            return True
        reason = f"hold before fault {fault_id} timed out after {self.hold_timeout_s:g}s without a resume"
        self._on_event("hold_timeout", reason, fault_id=fault_id)
        self.stop(reason)
        return False
