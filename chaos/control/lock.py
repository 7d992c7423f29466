"""One drill per environment: a lock file created with O_EXCL naming its holder (pid, host,
user, run dir, start); a lock whose process is gone from this host is taken over."""

from __future__ import annotations

import contextlib
import os
import secrets
import socket
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from chaos.control.requests import control_path, read_json, remove, who, write_json
from chaos.errors import ChaosError, ExitCode

# A lock file another process is still writing (created, not yet filled) is not stale: it
# is taken over only once it is older than this and still unreadable.
UNREADABLE_GRACE_S = 5.0


@dataclass(frozen=True, slots=True)
class Holder:
    pid: int
    host: str
    user: str
    run_dir: str
    started_at: float
    token: str

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> Holder | None:
        try:
            return cls(int(doc["pid"]), str(doc["host"]), str(doc["user"]), str(doc.get("run_dir", "")),
                       float(doc["started_at"]), str(doc.get("token", "")))
        except (KeyError, TypeError, ValueError):
            return None

    def describe(self) -> str:
        since = datetime.fromtimestamp(self.started_at, tz=UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        return f"{self.user}@{self.host} pid {self.pid}, run dir {self.run_dir or '?'}, since {since}"

    def alive(self) -> bool:
        """False only when the holder is known dead: a process of this host that is gone."""
        return self.host != socket.gethostname() or pid_alive(self.pid)


class EnvironmentLocked(ChaosError):
    """Another drill holds the environment."""

    exit_code = ExitCode.INFRASTRUCTURE

    def __init__(self, env_name: str, holder: Holder | None) -> None:
        self.env_name, self.holder = env_name, holder
        who_ = holder.describe() if holder else "a process still writing its lock file"
        super().__init__(f"environment {env_name} is locked by another drill: {who_}")


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    with contextlib.suppress(OSError):  # a zombie has exited: its lock is stale
        stat = Path(f"/proc/{pid}/stat").read_text()
        if stat.rsplit(")", 1)[1].split()[0] == "Z":
            return False
    return True


def read_holder(env_name: str, directory: Path | None = None) -> Holder | None:
    doc = read_json(control_path(env_name, "lock", directory))
    return Holder.from_doc(doc) if doc else None


class EnvironmentLock:
    """A held lock; `took_over` names the dead holder it replaced. Release with `release()`."""

    def __init__(self, env_name: str, path: Path, holder: Holder, took_over: Holder | None) -> None:
        self.env_name, self.path, self.holder, self.took_over = env_name, path, holder, took_over

    def control_file(self, suffix: str) -> Path:
        return self.path.with_suffix(f".{suffix}")

    def set_run_dir(self, run_dir: Path) -> None:
        """Name the bundle once it exists (the lock is taken before anything starts)."""
        if self._ours():
            self.holder = Holder(self.holder.pid, self.holder.host, self.holder.user, str(run_dir),
                                 self.holder.started_at, self.holder.token)
            write_json(self.path, _doc(self.holder))

    def release(self) -> None:
        """Remove the lock and its requests, if the lock is still ours (never another's)."""
        if self._ours():
            for suffix in ("abort", "resume", "hold"):
                remove(self.control_file(suffix))
            remove(self.path)

    def _ours(self) -> bool:
        doc = read_json(self.path)
        return doc is not None and doc.get("token") == self.holder.token


def _doc(h: Holder) -> dict[str, Any]:
    return {"pid": h.pid, "host": h.host, "user": h.user, "run_dir": h.run_dir,
            "started_at": h.started_at, "token": h.token}


def acquire_lock(env_name: str, run_dir: Path | str, directory: Path | None = None) -> EnvironmentLock:
    """Take the environment's lock or raise EnvironmentLocked naming its holder."""
    path = control_path(env_name, "lock", directory)
    path.parent.mkdir(parents=True, exist_ok=True)
    me = who()
    holder = Holder(me["pid"], me["host"], me["user"], str(run_dir), me["at"], secrets.token_hex(8))
    took_over: Holder | None = None
    for _ in range(3):
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            stale = _stale_holder(env_name, path)
            if stale is None:
                continue  # released meanwhile: try again
            took_over = stale if isinstance(stale, Holder) else took_over
            continue
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            import json

            out.write(json.dumps(_doc(holder)))
            out.flush()
            os.fsync(out.fileno())
        lock = EnvironmentLock(env_name, path, holder, took_over)
        for suffix in ("abort", "resume", "hold"):  # requests left for a drill that is gone
            remove(lock.control_file(suffix))
        return lock
    raise EnvironmentLocked(env_name, read_holder(env_name, directory))


def _stale_holder(env_name: str, path: Path) -> Holder | bool | None:
    """Remove a stale lock (returning its holder, or True when it was unreadable); None when
    the lock vanished; raise EnvironmentLocked when its holder lives."""
    doc = read_json(path)
    holder = Holder.from_doc(doc) if doc else None
    if holder is None:
        try:
            age = time.time() - path.stat().st_mtime
        except FileNotFoundError:
            return None
        if age < UNREADABLE_GRACE_S:
            raise EnvironmentLocked(env_name, None)
    elif holder.alive():
        raise EnvironmentLocked(env_name, holder)
    # Invariant: only one contender removes the stale file, under a takeover lock of its own;
    # it re-reads the lock there, so a lock a faster contender just took is never removed.
    guard = path.with_suffix(".takeover")
    try:
        fd = os.open(guard, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    except FileExistsError:
        with contextlib.suppress(FileNotFoundError):
            if time.time() - guard.stat().st_mtime > UNREADABLE_GRACE_S:
                remove(guard)  # a contender died mid-takeover
        raise EnvironmentLocked(env_name, holder) from None
    try:
        os.close(fd)
        again = read_json(path)
        if (Holder.from_doc(again) if again else None) != holder:
            return None  # changed under us: start over
        remove(path)
    finally:
        remove(guard)
    return holder if holder is not None else True
