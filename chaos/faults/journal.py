"""The write-ahead fault journal: JSON lines, fsynced, one `apply` line before each primitive.

Lines: `header` (run id, targets), `apply` (seq, fault id, primitive with its undo data),
`applied` (verified), `reverted` (method), `revert_failed` (error), `closed` (clean end).
An `apply` without a later `reverted` is open: `replay_journal` undoes it.

Secrets never reach the file: a value that came from `${VAR}` is written as `${VAR}` again
(chaos.redact), and `read_journal` / `open_entries` resolve it from the environment of the
process that replays, as the run did.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chaos.errors import FaultError, SpecError
from chaos.faults.primitives import Primitive, Targets
from chaos.redact import SECRETS

JOURNAL_NAME = "faults.journal.jsonl"


@dataclass(frozen=True, slots=True)
class OpenEntry:
    """A primitive the journal says may be in effect."""

    seq: int
    fault_id: str
    primitive: Primitive


class Journal:
    """Appends fsynced lines; safe to append from another process (O_APPEND) during replay."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None
        self._seq = 0

    @classmethod
    def create(cls, path: Path, *, run_id: str, targets: Targets) -> Journal:
        path.parent.mkdir(parents=True, exist_ok=True)
        journal = cls(path)
        journal._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        journal.write({"type": "header", "run_id": run_id, "pid": os.getpid(),
                       "targets": targets.to_json()})
        _fsync_dir(path.parent)
        return journal

    @classmethod
    def append_to(cls, path: Path) -> Journal:
        """Open an existing journal to record reverts (replay, cleanup)."""
        journal = cls(path)
        journal._fd = os.open(path, os.O_WRONLY | os.O_APPEND)
        return journal

    def write(self, entry: dict[str, Any]) -> None:
        if self._fd is None:
            raise FaultError(str(self.path), "journal write", "journal is closed")
        line = json.dumps({**SECRETS.for_journal(entry), "t": time.time()}, separators=(",", ":")) + "\n"
        os.write(self._fd, line.encode())
        os.fsync(self._fd)

    def intend(self, fault_id: str, primitive: Primitive) -> int:
        """Write-ahead: journal the primitive (and so its undo) before it is applied."""
        self._seq += 1
        self.write({"type": "apply", "seq": self._seq, "fault_id": fault_id,
                    "primitive": primitive.to_json()})
        return self._seq

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def read_journal(path: Path) -> tuple[Targets, str, list[dict[str, Any]]]:
    """(targets, run id, entries) of a journal; a torn last line (crash mid-write) is ignored."""
    try:
        text = path.read_text("utf-8")
    except OSError as exc:
        raise FaultError(str(path), "journal read", exc.strerror or str(exc)) from None
    entries: list[dict[str, Any]] = []
    lines = text.splitlines()
    for number, line in enumerate(lines, 1):
        try:
            entries.append(json.loads(line))
        except ValueError:
            if number == len(lines):
                break  # torn final write
            raise FaultError(f"{path}:{number}", "journal read", "not a JSON line") from None
    if not entries or entries[0].get("type") != "header":
        raise FaultError(str(path), "journal read", "no header line")
    header = entries[0]
    targets = _resolved(header.get("targets") or {}, path, "header")
    return Targets.from_json(targets), str(header.get("run_id", "")), entries


def open_entries(entries: list[dict[str, Any]], path: Path | None = None) -> list[OpenEntry]:
    """Applies without a `reverted` line, in apply order, `${VAR}` resolved (FaultError
    naming the variable when it is not set)."""
    applies: dict[int, dict[str, Any]] = {}
    for entry in entries:
        if entry.get("type") == "apply":
            applies[int(entry["seq"])] = entry
        elif entry.get("type") == "reverted":
            applies.pop(int(entry["seq"]), None)
    return [OpenEntry(seq, str(applies[seq].get("fault_id", "")),
                      Primitive.from_json(_resolved(applies[seq]["primitive"], path, f"seq {seq}")))
            for seq in sorted(applies)]


def _resolved(value: Any, path: Path | None, where: str) -> Any:
    """`value` with the `${VAR}` forms the journal stores resolved from this process's
    environment (registering them as secrets, so whatever reports on them redacts them)."""
    if isinstance(value, str):
        if "${" not in value:
            return value
        from chaos.spec.envvars import expand_env  # lazily: the watchdog must start fast

        try:
            return expand_env(value, where=where)
        except SpecError as exc:
            raise FaultError(f"{path or JOURNAL_NAME} ({where})", "journal read",
                             f"{exc.issues[0].message}; the journal keeps variables unresolved: "
                             "set it as the run had it, then run `chaos cleanup --run` again") from None
    if isinstance(value, dict):
        return {k: _resolved(v, path, where) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolved(v, path, where) for v in value]
    return value


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
