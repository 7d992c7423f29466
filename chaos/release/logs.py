"""Reading the target's logs through the source its environment declares: files, containers, a command.

A source takes a `mark()` before the check and returns only what was written after it from
`read_since_mark()`, so the privacy check judges the lines of its own request, not history.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from chaos.errors import InfrastructureError
from chaos.spec.environment import Logs
from chaos.spec.envvars import expand_env

COMMAND_TIMEOUT_S = 30.0


class LogSourceError(InfrastructureError):
    """The declared log source cannot be read (missing file, no engine, failing command)."""


class LogSource(Protocol):
    description: str

    def mark(self) -> None: ...

    def read_since_mark(self) -> list[str]: ...


@dataclass
class FileSource:
    """Log files: remembers each file's size, then reads the bytes appended since (a file that
    shrank was rotated or truncated and is read from its start). A file that does not exist yet
    counts as empty (components open their log at their first request)."""

    paths: Sequence[Path]
    description: str = ""
    _offsets: dict[Path, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.description = "files " + ", ".join(str(p) for p in self.paths)

    def mark(self) -> None:
        for path in self.paths:
            if path.exists() and not path.is_file():
                raise LogSourceError(f"log path {path} is not a file")
        self._offsets = {p: p.stat().st_size if p.is_file() else 0 for p in self.paths}

    def read_since_mark(self) -> list[str]:
        lines: list[str] = []
        for path in self.paths:
            if not path.exists():
                continue
            offset = self._offsets.get(path, 0)
            try:
                with path.open("rb") as f:
                    size = f.seek(0, os.SEEK_END)
                    f.seek(offset if offset <= size else 0)
                    data = f.read()
            except OSError as exc:
                raise LogSourceError(f"cannot read log file {path}: {exc.strerror}") from None
            lines.extend(data.decode("utf-8", errors="replace").splitlines())
        return lines


@dataclass
class ContainerSource:
    """`docker logs` of named containers (stdout and stderr) through the Docker SDK."""

    names: Sequence[str]
    docker_host: str | None = None
    description: str = ""
    _since: float = 0.0

    def __post_init__(self) -> None:
        self.description = "containers " + ", ".join(self.names)

    def _containers(self) -> list[Any]:
        import docker  # heavy optional import, only where containers are read
        import docker.errors

        try:
            client = docker.DockerClient(base_url=self.docker_host, timeout=30) if self.docker_host \
                else docker.from_env(timeout=30)
            return [client.containers.get(name) for name in self.names]
        except docker.errors.DockerException as exc:
            raise LogSourceError(f"cannot reach the log containers: {exc}") from None

    def mark(self) -> None:
        self._containers()
        # Docker's `since` has one-second resolution: a line of the second before may come
        # along, which only widens the window the canary is searched in.
        self._since = time.time() - 1.0

    def read_since_mark(self) -> list[str]:
        import docker.errors

        lines: list[str] = []
        since = datetime.fromtimestamp(self._since, tz=UTC)
        for container in self._containers():
            try:
                raw = container.logs(stdout=True, stderr=True, since=since, timestamps=False)
            except docker.errors.DockerException as exc:
                raise LogSourceError(f"docker logs {container.name}: {exc}") from None
            lines.extend(bytes(raw).decode("utf-8", errors="replace").splitlines())
        return lines


@dataclass
class CommandSource:
    """A shell command that prints the logs. It gets CHAOS_LOGS_SINCE (Unix seconds of the
    mark) to narrow its output; lines it already printed at the mark are dropped."""

    command: str
    description: str = ""
    _before: list[str] = field(default_factory=list)
    _since: float = 0.0

    def __post_init__(self) -> None:
        self.description = f"command {self.command!r}"

    def _run(self) -> list[str]:
        env = dict(os.environ, CHAOS_LOGS_SINCE=f"{self._since:.3f}")
        try:
            done = subprocess.run(
                ["/bin/sh", "-c", self.command], capture_output=True, env=env,
                timeout=COMMAND_TIMEOUT_S, check=False,
            )
        except subprocess.TimeoutExpired:
            raise LogSourceError(f"log command timed out after {COMMAND_TIMEOUT_S:g}s") from None
        if done.returncode != 0:
            tail = done.stderr.decode("utf-8", errors="replace").strip()[-300:]
            raise LogSourceError(f"log command exited {done.returncode}: {tail}")
        return done.stdout.decode("utf-8", errors="replace").splitlines()

    def mark(self) -> None:
        self._since = time.time() - 1.0
        self._before = self._run()

    def read_since_mark(self) -> list[str]:
        after = self._run()
        before = self._before
        if len(after) >= len(before) and after[: len(before)] == before:
            return after[len(before):]
        seen = set(before)
        return [line for line in after if line not in seen]


def log_source(logs: Logs, *, docker_host: str | None = None, where: str = "") -> LogSource | None:
    """The source an environment's `logs:` section declares (files, then containers, then
    command); None when it declares none."""
    if logs.files:
        paths = [Path(expand_env(p, where=where)).expanduser() for p in logs.files]
        return FileSource(paths)
    if logs.containers:
        return ContainerSource([expand_env(c, where=where) for c in logs.containers], docker_host)
    if logs.command:
        return CommandSource(expand_env(logs.command, where=where))
    return None


def line_fields(line: str, names: Sequence[str]) -> set[str]:
    """Which of `names` a log line carries: keys of a JSON object line, else `name=` / `name:`."""
    text = line.strip()
    start = text.find("{")
    if start >= 0:
        try:
            obj = json.loads(text[start:])
        except ValueError:
            obj = None
        if isinstance(obj, Mapping):
            return {n for n in names if n in obj}
    return {n for n in names if re.search(rf"\b{re.escape(n)}\"?\s*[=:]", text)}
