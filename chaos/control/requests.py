"""Where the control files of an environment live, and the requests other terminals leave
there: abort (`<env>.abort`), resume (`<env>.resume`) and the hold a drill is waiting in
(`<env>.hold`). Each file is JSON, written whole (temporary file, then rename)."""

from __future__ import annotations

import contextlib
import getpass
import json
import os
import re
import socket
import time
from pathlib import Path
from typing import Any

from chaos.redact import redact_text

CONTROL_DIR_ENV = "CHAOS_CONTROL_DIR"  # default ~/.chaos/locks


def control_dir() -> Path:
    raw = os.environ.get(CONTROL_DIR_ENV, "")
    return Path(raw) if raw else Path.home() / ".chaos" / "locks"


def control_path(env_name: str, suffix: str, directory: Path | None = None) -> Path:
    """`<dir>/<env name>.<suffix>`, the name made safe for a file name."""
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", env_name).lstrip(".") or "_"
    return (directory or control_dir()) / f"{safe}.{suffix}"


def who() -> dict[str, Any]:
    """The user, host and process asking, and when (wall clock)."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = str(os.getuid())
    return {"user": user, "host": socket.gethostname(), "pid": os.getpid(), "at": time.time()}


def write_json(path: Path, doc: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    # Unique per writer (two terminals may ask at once); the reason is an operator's text.
    tmp.write_text(redact_text(json.dumps(doc)), encoding="utf-8")
    os.replace(tmp, path)


def read_json(path: Path) -> dict[str, Any] | None:
    """The file's object; None when it is absent or not (yet) a JSON object."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return doc if isinstance(doc, dict) else None


def remove(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()


def request_abort(env_name: str, reason: str = "", directory: Path | None = None) -> dict[str, Any]:
    """Ask the drill running on `env_name` to stop (it polls for this file every second)."""
    doc = who() | {"reason": reason}
    write_json(control_path(env_name, "abort", directory), doc)
    return doc


def request_resume(env_name: str, directory: Path | None = None) -> dict[str, Any]:
    """Release the hold the drill on `env_name` waits in."""
    doc = who()
    write_json(control_path(env_name, "resume", directory), doc)
    return doc


def read_hold(env_name: str, directory: Path | None = None) -> dict[str, Any] | None:
    """The hold the drill on `env_name` is waiting in, if any."""
    return read_json(control_path(env_name, "hold", directory))


def by_whom(doc: dict[str, Any]) -> str:
    return f"{doc.get('user', '?')}@{doc.get('host', '?')} pid {doc.get('pid', '?')}"
