"""The evidence bundle on disk while a run is going: incremental JSON lines, then the final files.

Layout of `runs/<UTC time>-<drill>/`:
- `run.json`: run id, drill, options, state (`running`, then `complete` / `aborted` /
  `interrupted` / `error`), rewritten atomically on every state change;
- `inputs.json`: drill and environment as written (secrets redacted), evaluation settings;
- `phases.json`: the timeline as wall-clock phases;
- `windows.jsonl`, `missing.jsonl`, `samples.jsonl`, `probes.jsonl`, `faults.jsonl`,
  `events.jsonl`: appended and flushed as the run produces them, so a killed run still
  leaves a readable (incomplete) bundle;
- at the end: `evidence.json`, `summary.md`, `report.html`, `junit.xml`, `manifest.sha256`.

Every text file of a bundle is written through `write_text_atomic`, `write_json_atomic` or
`BundleWriter` (the journal through chaos.faults.journal): each redacts the run's secrets
(chaos.redact) on the way out, so no writer has to remember to.
"""

from __future__ import annotations

import contextlib
import json
import re
import socket
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, Literal

from chaos.recording import (
    FaultRecord,
    LoadWindow,
    MissingWindow,
    Phase,
    ProbeSecond,
    Sample,
    _to_jsonable,
)
from chaos.redact import redact_text, redact_value

RunState = Literal["running", "complete", "aborted", "interrupted", "error", "killed",
                   "revert_failed", "infrastructure_error", "preflight_failed"]

STREAMS = ("windows", "missing", "samples", "probes", "faults", "events")


def bundle_dir_name(drill_name: str, started_at: float) -> str:
    stamp = datetime.fromtimestamp(started_at, tz=UTC).strftime("%Y%m%dT%H%M%SZ")
    safe = re.sub(r"[^A-Za-z0-9._-]+", "-", drill_name).strip("-") or "drill"
    return f"{stamp}-{safe}"


def write_text_atomic(path: Path, text: str) -> None:
    """Write `text`, its secrets redacted, to `path` through a `.tmp` file and a rename; a
    failed write (OSError) leaves no `.tmp` file behind."""
    tmp = path.with_name(path.name + ".tmp")
    try:
        tmp.write_text(redact_text(text), encoding="utf-8")
        tmp.replace(path)
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)


def write_json_atomic(path: Path, data: Any, *, indent: int = 2) -> None:
    """Write `data` as JSON, every string (keys too) redacted, like `write_text_atomic`."""
    text = json.dumps(redact_value(_to_jsonable(data)), indent=indent, sort_keys=False) + "\n"
    tmp = path.with_name(path.name + ".tmp")
    try:
        tmp.write_text(text, encoding="utf-8")  # redacted above, value by value
        tmp.replace(path)
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)


@dataclass(frozen=True, slots=True)
class BundleStatistics:
    path: str
    state: str
    lines_written: Mapping[str, int]


class BundleWriter:
    """Appends a run's recording to its bundle as it happens (one JSON object per line)."""

    def __init__(self, path: Path, *, run_meta: Mapping[str, Any]) -> None:
        self.path = path
        self._meta: dict[str, Any] = dict(run_meta)
        self._meta.setdefault("state", "running")
        self._files: dict[str, IO[str]] = {}
        self._lines = dict.fromkeys(STREAMS, 0)
        path.mkdir(parents=True, exist_ok=False)
        write_json_atomic(path / "run.json", self._meta)

    @classmethod
    def create(
        cls, evidence_dir: Path, drill_name: str, started_at: float, *, run_meta: Mapping[str, Any]
    ) -> BundleWriter:
        """A new bundle directory under `evidence_dir`, named by UTC time and drill."""
        evidence_dir.mkdir(parents=True, exist_ok=True)
        base = bundle_dir_name(drill_name, started_at)
        candidate = evidence_dir / base
        n = 1
        while candidate.exists():
            n += 1
            candidate = evidence_dir / f"{base}.{n}"
        return cls(candidate, run_meta=run_meta)

    @property
    def state(self) -> str:
        return str(self._meta["state"])

    def update_meta(self, **fields: Any) -> None:
        self._meta.update(fields)
        write_json_atomic(self.path / "run.json", self._meta)

    def set_state(self, state: RunState, **fields: Any) -> None:
        self.update_meta(state=state, **fields)

    def write_inputs(self, inputs: Mapping[str, Any]) -> None:
        write_json_atomic(self.path / "inputs.json", dict(inputs))

    def write_phases(self, phases: Sequence[Phase]) -> None:
        write_json_atomic(self.path / "phases.json", [_to_jsonable(p) for p in phases])

    def _append(self, stream: str, value: Any) -> None:
        f = self._files.get(stream)
        if f is None:
            f = (self.path / f"{stream}.jsonl").open("a", encoding="utf-8")
            self._files[stream] = f
        f.write(json.dumps(redact_value(_to_jsonable(value)), separators=(",", ":")) + "\n")
        # Flushed per line: a SIGKILLed runner still leaves every line in the OS cache.
        f.flush()
        self._lines[stream] += 1

    def append_window(self, window: LoadWindow) -> None:
        self._append("windows", window)

    def append_missing(self, missing: MissingWindow) -> None:
        self._append("missing", missing)

    def append_sample(self, sample: Sample) -> None:
        self._append("samples", sample)

    def append_probe(self, probe: ProbeSecond) -> None:
        self._append("probes", probe)

    def append_fault(self, record: FaultRecord) -> None:
        """A fault's latest state; later lines for the same id supersede earlier ones."""
        self._append("faults", record)

    def append_event(self, kind: str, message: str, **detail: Any) -> None:
        self._append("events", {"t": time.time(), "kind": kind, "message": message, **detail})

    def close(self) -> None:
        """Close every stream file, each even when another cannot flush (a full disk: its
        unwritten tail is dropped now, not flushed into a sealed bundle later); then raise the
        first OSError."""
        first: OSError | None = None
        for f in self._files.values():
            try:
                f.close()
            except OSError as exc:
                first = first or exc
        self._files.clear()
        if first is not None:
            raise first

    def statistics(self) -> BundleStatistics:
        return BundleStatistics(str(self.path), self.state, dict(self._lines))


def mark_killed(path: Path, *, why: str) -> float | None:
    """A bundle left `running` by a runner that is gone (SIGKILL, host loss) becomes `killed`,
    ended at its last record (the newest file write in the bundle). Returns that instant, or
    None when the bundle is not a running one or its runner is still alive on this host."""
    meta_path = path / "run.json"
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(meta, dict) or meta.get("state") != "running":
        return None
    pid = meta.get("pid")
    if isinstance(pid, int) and meta.get("host") == socket.gethostname() and _alive(pid):
        return None
    last = max((f.stat().st_mtime for f in path.iterdir()
                if f.is_file() and f.name not in ("run.json", "watchdog.log")), default=None)
    ended = last if last is not None else meta.get("started_at")
    meta.update(state="killed", ended_at=ended, aborted=f"killed: {why}")
    write_json_atomic(meta_path, meta)
    return float(ended) if isinstance(ended, int | float) else None


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[-1].split()[0] not in ("Z", "X")
