"""The launcher's state file: which component runs with which pid, argv and env, and how to restart it.

The faults package uses `load_state`, `component_alive` and `restart_component` to kill and bring
back testbed processes (process runtime). Writes are atomic (temp file + rename) under a lock file,
so concurrent restarts never lose an update.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import httpx

from chaos.errors import TestbedError

DEFAULT_STATE_PATH = Path("~/.chaos/testbed/state.json")

# Popen objects of the components this Python process spawned: kept so that they are reaped
# (no zombies, no "still running" ResourceWarning) when stopped from the same process.
_CHILDREN: dict[int, subprocess.Popen[bytes]] = {}


@dataclass(frozen=True)
class ComponentState:
    """One running component. `health_url` is None where only the TCP port tells readiness (redis)."""

    name: str
    pid: int
    argv: list[str]
    env: dict[str, str]
    cwd: str
    log_path: str
    port: int
    health_url: str | None


@dataclass(frozen=True)
class ProxyState:
    """One Toxiproxy proxy the launcher created (re-created when toxiproxy restarts)."""

    name: str
    listen: str
    upstream: str


@dataclass(frozen=True)
class TestbedState:
    """The whole running testbed, as written to the state file."""

    __test__ = False  # not a pytest test class despite the name

    components: dict[str, ComponentState]
    proxies: dict[str, ProxyState] = field(default_factory=dict)
    toxiproxy_api: str = ""
    base_url: str = ""
    log_dir: str = ""
    config_path: str = ""
    started_at: float = 0.0  # wall clock, Unix seconds


def default_state_path() -> Path:
    return Path(os.environ.get("CHAOS_TESTBED_STATE", str(DEFAULT_STATE_PATH))).expanduser()


def load_state(path: Path) -> TestbedState:
    """Read the state file; a missing or unreadable file is a TestbedError naming it."""
    try:
        raw = json.loads(Path(path).expanduser().read_text("utf-8"))
        comps = {n: ComponentState(**c) for n, c in raw["components"].items()}
        proxies = {n: ProxyState(**p) for n, p in raw.get("proxies", {}).items()}
        return TestbedState(
            components=comps,
            proxies=proxies,
            toxiproxy_api=raw.get("toxiproxy_api", ""),
            base_url=raw.get("base_url", ""),
            log_dir=raw.get("log_dir", ""),
            config_path=raw.get("config_path", ""),
            started_at=float(raw.get("started_at", 0.0)),
        )
    except FileNotFoundError:
        raise TestbedError(f"no testbed state file at {path} (is the testbed up?)") from None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise TestbedError(f"unreadable testbed state file {path}: {exc}") from None


def save_state(path: Path, state: TestbedState) -> None:
    """Write the state file atomically (a reader sees the old or the new file, never half)."""
    path = Path(path).expanduser()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(asdict(state), indent=2), "utf-8")
    os.replace(tmp, path)


@contextlib.contextmanager
def state_lock(path: Path) -> Iterator[None]:
    """An exclusive advisory lock beside the state file, for read-modify-write updates."""
    lock = Path(path).expanduser().with_name(Path(path).name + ".lock")
    lock.parent.mkdir(parents=True, exist_ok=True)
    with lock.open("a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def pid_alive(pid: int, argv: list[str] | None = None) -> bool:
    """True while `pid` runs (not a zombie) and, when `argv` is given, still runs that command."""
    child = _CHILDREN.get(pid)
    if child is not None:
        # Our own unreaped child: its pid cannot have been reused, poll() is the truth.
        return child.poll() is None
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    fields = stat.rsplit(")", 1)[-1].split()
    if fields[0] in ("Z", "X"):
        return False
    if argv:
        # Invariant: our components lead their own session (start_new_session) and run argv[0];
        # a reused pid fails one of the two. Compare basenames only: redis rewrites its title.
        first = cmdline[0].decode(errors="replace").split(" ")[0] if cmdline and cmdline[0] else ""
        session_leader = fields[3] == str(pid)  # after "(comm)": state ppid pgrp session
        # An empty cmdline is a process rewriting its title (redis) at that instant.
        return session_leader and (first == "" or os.path.basename(first) == os.path.basename(argv[0]))
    return True


def component_alive(state: TestbedState, name: str) -> bool:
    """True while the component's recorded process still runs."""
    comp = state.components.get(name)
    if comp is None:
        raise TestbedError(f"no testbed component named {name!r} (known: {sorted(state.components)})")
    return pid_alive(comp.pid, comp.argv)


def spawn(comp: ComponentState) -> int:
    """Start the component's argv in its own session (it outlives the CLI); returns the pid."""
    Path(comp.log_path).parent.mkdir(parents=True, exist_ok=True)
    with open(comp.log_path.removesuffix(".log") + ".out", "ab") as out:
        try:
            proc = subprocess.Popen(
                comp.argv, cwd=comp.cwd, env=comp.env, stdin=subprocess.DEVNULL,
                stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
            )
        except OSError as exc:
            raise TestbedError(f"cannot start {comp.name} ({comp.argv[0]}): {exc.strerror}") from None
    _CHILDREN[proc.pid] = proc
    return proc.pid


def terminate(pid: int, argv: list[str] | None, *, timeout_s: float = 5.0) -> None:
    """SIGTERM the component's process group, SIGKILL it past `timeout_s`; returns once it is gone."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        if not pid_alive(pid, argv):
            break
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, sig)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and pid_alive(pid, argv):
            time.sleep(0.02)
    child = _CHILDREN.pop(pid, None)
    if child is not None:
        with contextlib.suppress(subprocess.TimeoutExpired):
            child.wait(timeout=timeout_s)
    if pid_alive(pid, argv):
        raise TestbedError(f"process {pid} did not exit after SIGKILL")


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.2)
        return s.connect_ex((host, port)) == 0


def wait_ready(comp: ComponentState, pid: int, timeout_s: float, *, need_ok: bool) -> None:
    """Wait until the port accepts and the health URL answers (200 when `need_ok`); else raise."""
    deadline = time.monotonic() + timeout_s
    last = "port closed"
    while time.monotonic() < deadline:
        if not pid_alive(pid, comp.argv):
            raise TestbedError(f"{comp.name} exited during start-up (see {comp.log_path.removesuffix('.log')}.out)")
        if port_open(comp.port):
            if comp.health_url is None:
                return
            try:
                status = httpx.get(comp.health_url, timeout=1.0).status_code
            except httpx.HTTPError as exc:
                last = f"health {type(exc).__name__}"
            else:
                if status == 200 or not need_ok:
                    return
                last = f"health {status}"
        time.sleep(0.05)
    raise TestbedError(f"{comp.name} not ready after {timeout_s:g}s ({last})")


def restart_component(state_path: Path, name: str, *, timeout_s: float = 15.0) -> int:
    """Re-spawn `name` with its recorded argv/env, wait for it, record the new pid; returns it.

    A component still running is stopped first. Readiness: the port accepts and the health URL
    answers at all (a gateway restarted while Redis is down answers 503 but is running).
    Restarting toxiproxy re-creates its proxies.
    """
    state_path = Path(state_path).expanduser()
    with state_lock(state_path):
        state = load_state(state_path)
        comp = state.components.get(name)
        if comp is None:
            raise TestbedError(f"no testbed component named {name!r} (known: {sorted(state.components)})")
        terminate(comp.pid, comp.argv)
        pid = spawn(comp)
        try:
            wait_ready(comp, pid, timeout_s, need_ok=False)
            if name == "toxiproxy":
                from chaos.testbed.proxies import create_proxies

                create_proxies(state.toxiproxy_api, list(state.proxies.values()))
        except BaseException:
            terminate(pid, comp.argv)
            raise
        comps = dict(state.components)
        comps[name] = replace(comp, pid=pid)
        save_state(state_path, replace(state, components=comps))
    return pid
