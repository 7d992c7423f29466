"""Reading a bundle back: the finished evidence (manifest verified first) or, for a run that
died before finishing, the recording reassembled from its JSON lines."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeVar

from chaos.errors import EvidenceError, ExitCode
from chaos.recording import (
    FaultAction,
    FaultRecord,
    LoadWindow,
    MissingWindow,
    Phase,
    ProbeSecond,
    Recording,
    Sample,
)
from chaos.report.evidence import EVIDENCE_SCHEMA, Evidence
from chaos.report.manifest import MANIFEST_NAME, verify_manifest

T = TypeVar("T")


class BundleReadError(EvidenceError):
    """A bundle file exists but the system refuses to read it (permissions, I/O error)."""

    exit_code = ExitCode.INFRASTRUCTURE


@dataclass(frozen=True, slots=True)
class RawBundle:
    """What a bundle holds before (or without) its final evidence."""

    path: Path
    run: Mapping[str, Any]  # run.json
    inputs: Mapping[str, Any]
    recording: Recording
    events: tuple[Mapping[str, Any], ...] = field(default_factory=tuple)

    @property
    def state(self) -> str:
        return str(self.run.get("state", "running"))


def read_text(path: Path) -> str:
    """A bundle file as text: one-line EvidenceError naming the file (and the line and column
    of a byte that is not UTF-8), BundleReadError when the system refuses to read it."""
    try:
        if path.exists() and not path.is_file():
            # A FIFO would block the read forever, a device never end it.
            raise BundleReadError(f"{path}: cannot read: not a regular file")
        data = path.read_bytes()
    except FileNotFoundError:
        raise EvidenceError(f"{path.parent}: not an evidence bundle (no {path.name})") from None
    except OSError as exc:
        raise BundleReadError(f"{path}: cannot read: {exc.strerror or type(exc).__name__}") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise EvidenceError(f"{path}:{line}:{column}: not UTF-8 text (byte 0x{data[exc.start]:02x}); "
                            "the file is corrupted") from None


def _read_json(path: Path) -> Any:
    text = read_text(path)
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise EvidenceError(f"{path}:{exc.lineno}: not valid JSON: {exc.msg}") from None
    except RecursionError:
        raise EvidenceError(f"{path}: not a readable JSON document (nested too deeply)") from None


def _read_lines(path: Path) -> list[tuple[int, Any]]:
    """(line number, value) of each JSON line; the last line may be torn (a writer killed or
    out of space mid-line) and is dropped, any other bad line is an EvidenceError."""
    if not path.exists():
        return []
    rows: list[tuple[int, Any]] = []
    lines = read_text(path).splitlines()
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            rows.append((number, json.loads(line)))
        except (json.JSONDecodeError, RecursionError):
            if number == len(lines):
                break  # the writer was killed mid-line: the last line is torn, the rest is good
            raise EvidenceError(f"{path}:{number}: not valid JSON") from None
    return rows


def _rows(path: Path, what: str, make: Callable[[dict[str, Any]], T]) -> list[T]:
    """Each JSON line of `path` made into a `what`; EvidenceError naming the file and line
    of a row that is not one (a field missing or unknown, a wrong type)."""
    out: list[T] = []
    for number, row in _read_lines(path):
        if not isinstance(row, dict):
            raise EvidenceError(f"{path}:{number}: not {what} (a JSON {type(row).__name__}, "
                                "expected an object)")
        try:
            out.append(make(row))
        except (TypeError, ValueError, KeyError, AttributeError) as exc:
            detail = f"missing {exc}" if isinstance(exc, KeyError) else str(exc)
            raise EvidenceError(f"{path}:{number}: not {what} ({' '.join(detail.split())[:160]})") from None
    return out


def _fault(row: Mapping[str, Any]) -> FaultRecord:
    actions = row.get("actions") or ()
    if not isinstance(actions, list | tuple) or not all(isinstance(a, dict) for a in actions):
        raise TypeError("actions is not a list of objects")
    if not isinstance(row["id"], str):
        raise TypeError("id is not a string")
    return FaultRecord(
        **{k: v for k, v in row.items() if k != "actions"},
        actions=tuple(FaultAction(**a) for a in actions),
    )


def _expect(path: Path, data: Any, kind: type, what: str) -> Any:
    """`data` when it is of `kind` (dict or list), else EvidenceError naming the file."""
    if not isinstance(data, kind):
        raise EvidenceError(f"{path}: not {what} (a JSON {type(data).__name__})")
    return data


def read_inputs_and_events(path: Path) -> tuple[Mapping[str, Any], tuple[Mapping[str, Any], ...]]:
    """A bundle's inputs.json and events.jsonl as far as they read (what sealing needs:
    a damaged line loses that line, never the verdict)."""
    try:
        inputs = _read_json(path / "inputs.json") if (path / "inputs.json").exists() else {}
    except EvidenceError:
        inputs = {}
    try:
        events = tuple(row for _, row in _read_lines(path / "events.jsonl") if isinstance(row, dict))
    except EvidenceError:
        events = ()
    return (inputs if isinstance(inputs, dict) else {}), events


def read_raw(path: Path) -> RawBundle:
    """The bundle's recording from its incremental files (works for a killed run)."""
    run = _expect(path / "run.json", _read_json(path / "run.json"), dict, "a run record")
    inputs = (_expect(path / "inputs.json", _read_json(path / "inputs.json"), dict, "the inputs")
              if (path / "inputs.json").exists() else {})
    phases = (_expect(path / "phases.json", _read_json(path / "phases.json"), list, "a phase list")
              if (path / "phases.json").exists() else [])
    windows = _rows(path / "windows.jsonl", "a load window", lambda w: _window(w))
    samples = _rows(path / "samples.jsonl", "a metric sample", lambda s: Sample(**s))
    probes = _rows(path / "probes.jsonl", "a probe second", lambda p: ProbeSecond(**p))
    missing = _rows(path / "missing.jsonl", "a missing window", lambda m: MissingWindow(**m))
    faults: dict[str, FaultRecord] = {}
    for record in _rows(path / "faults.jsonl", "a fault record", _fault):
        faults[record.id] = record  # Invariant: the last line for an id is its latest state
    events = tuple(_rows(path / "events.jsonl", "an event", lambda e: e))
    try:
        started_at = float(run.get("started_at", 0.0))
        ended_candidates = [float(w.end) for w in windows] + [float(s.t) for s in samples] \
            + [float(p.t) for p in probes]
        ended_at = float(run.get("ended_at") or max(ended_candidates, default=started_at))
        state = str(run.get("state", "running"))
        phase_list = tuple(Phase(**p) for p in phases)
    except (TypeError, ValueError) as exc:
        raise EvidenceError(f"{path}: run.json, phases.json or a row holds a value of the wrong "
                            f"type ({' '.join(str(exc).split())[:160]})") from None
    recording = Recording(
        run_id=str(run.get("run_id", path.name)),
        started_at=started_at,
        ended_at=ended_at,
        phases=phase_list,
        windows=tuple(windows),
        missing_windows=tuple(missing),
        samples=tuple(samples),
        probes=tuple(probes),
        faults=tuple(faults.values()),
        time_scale=_number(path, run, "time_scale", 1.0),
        load_scale=_number(path, run, "load_scale", 1.0),
        complete=state == "complete",
        aborted=run.get("aborted") or (None if state == "complete" else ("killed" if state == "running" else state)),
        sample_interval_s=_number(path, run, "sample_interval_s", 1.0),
    )
    return RawBundle(path=path, run=run, inputs=inputs, recording=recording, events=events)


def _number(path: Path, run: Mapping[str, Any], key: str, default: float) -> float:
    try:
        return float(run.get(key, default))
    except (TypeError, ValueError):
        raise EvidenceError(f"{path / 'run.json'}: {key} is not a number") from None


def _window(row: dict[str, Any]) -> LoadWindow:
    failed = row.get("failed")
    if failed:
        row = {**row, "failed": tuple(tuple(f) for f in failed)}
    return LoadWindow(**row)


def is_finalised(path: Path) -> bool:
    """Sealed: evidence.json and the manifest both written (a run whose sealing was cut short,
    by a full disk say, is judged again from its recording)."""
    return (path / "evidence.json").exists() and (path / MANIFEST_NAME).exists()


def read_evidence(path: Path, *, verify: bool = True) -> Evidence:
    """The finished evidence of a bundle, after checking its manifest (EvidenceError if the
    manifest fails or the bundle has no evidence.json)."""
    if not path.is_dir():
        raise EvidenceError(f"{path}: no such bundle directory")
    if not is_finalised(path):
        missing = "evidence.json" if not (path / "evidence.json").exists() else MANIFEST_NAME
        raise EvidenceError(f"{path}: the run never finished writing {missing} (incomplete bundle)")
    if verify:
        try:
            verify_manifest(path)
        except UnicodeDecodeError as exc:
            raise EvidenceError(f"{path / MANIFEST_NAME}: not UTF-8 text (byte {exc.start}); "
                                "the manifest is corrupted") from None
        except OSError as exc:
            raise BundleReadError(f"{exc.filename or path}: cannot read: "
                                  f"{exc.strerror or type(exc).__name__}") from None
    data = _read_json(path / "evidence.json")
    try:
        return Evidence.from_json(data)
    except EvidenceError as exc:
        raise EvidenceError(f"{path}: {exc}") from None
    except (KeyError, TypeError, ValueError, AttributeError, RecursionError) as exc:
        detail = f"missing {exc}" if isinstance(exc, KeyError) else f"{type(exc).__name__}: {exc}"
        raise EvidenceError(f"{path}: evidence.json is not a readable evidence document ({detail})") from None


def bundle_kind(path: Path) -> Literal["drill", "release"]:
    """Which command wrote the bundle: `chaos run` (finished, or killed with only its JSON
    lines) or `chaos release`; a one-line EvidenceError naming `path` for anything else."""
    if not path.is_dir():
        raise EvidenceError(f"{path}: no such bundle directory")
    if is_finalised(path):
        data = _read_json(path / "evidence.json")
        if not isinstance(data, dict) or data.get("schema") != EVIDENCE_SCHEMA:
            raise EvidenceError(f"{path}: neither a drill nor a release bundle "
                                "(evidence.json is not a chaos evidence document)")
        report, inputs = data.get("report"), data.get("inputs")
        if isinstance(report, dict) and report.get("kind") == "release":
            return "release"
        if isinstance(inputs, dict) and "evaluation" in inputs:
            return "drill"
        raise EvidenceError(f"{path}: neither a drill nor a release bundle "
                            "(evidence.json has no evaluation settings and no release record)")
    if (path / "run.json").is_file():
        return "drill"
    raise EvidenceError(f"{path}: neither a drill nor a release bundle (no evidence.json or run.json)")
