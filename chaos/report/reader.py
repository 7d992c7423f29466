"""Reading a bundle back: the finished evidence (manifest verified first) or, for a run that
died before finishing, the recording reassembled from its JSON lines."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from chaos.errors import EvidenceError
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
from chaos.report.manifest import verify_manifest


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


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise EvidenceError(f"{path.parent}: not an evidence bundle (no {path.name})") from None
    except json.JSONDecodeError as exc:
        raise EvidenceError(f"{path}:{exc.lineno}: not valid JSON: {exc.msg}") from None


def _read_lines(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        return []
    rows: list[dict[str, Any]] = []
    lines = path.read_text(encoding="utf-8").splitlines()
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            if number == len(lines):
                break  # the writer was killed mid-line: the last line is torn, the rest is good
            raise EvidenceError(f"{path}:{number}: not valid JSON") from None
    return rows


def _fault(row: Mapping[str, Any]) -> FaultRecord:
    return FaultRecord(
        **{k: v for k, v in row.items() if k != "actions"},
        actions=tuple(FaultAction(**a) for a in row.get("actions", ())),
    )


def read_raw(path: Path) -> RawBundle:
    """The bundle's recording from its incremental files (works for a killed run)."""
    run = _read_json(path / "run.json")
    inputs = _read_json(path / "inputs.json") if (path / "inputs.json").is_file() else {}
    phases = _read_json(path / "phases.json") if (path / "phases.json").is_file() else []
    windows = [LoadWindow(**w) for w in _read_lines(path / "windows.jsonl")]
    samples = [Sample(**s) for s in _read_lines(path / "samples.jsonl")]
    probes = [ProbeSecond(**p) for p in _read_lines(path / "probes.jsonl")]
    missing = [MissingWindow(**m) for m in _read_lines(path / "missing.jsonl")]
    faults: dict[str, FaultRecord] = {}
    for row in _read_lines(path / "faults.jsonl"):
        faults[row["id"]] = _fault(row)  # Invariant: the last line for an id is its latest state
    events = tuple(_read_lines(path / "events.jsonl"))
    started_at = float(run.get("started_at", 0.0))
    ended_candidates = [w.end for w in windows] + [s.t for s in samples] + [p.t for p in probes]
    ended_at = float(run.get("ended_at") or max(ended_candidates, default=started_at))
    state = str(run.get("state", "running"))
    recording = Recording(
        run_id=str(run.get("run_id", path.name)),
        started_at=started_at,
        ended_at=ended_at,
        phases=tuple(Phase(**p) for p in phases),
        windows=tuple(windows),
        missing_windows=tuple(missing),
        samples=tuple(samples),
        probes=tuple(probes),
        faults=tuple(faults.values()),
        time_scale=float(run.get("time_scale", 1.0)),
        load_scale=float(run.get("load_scale", 1.0)),
        complete=state == "complete",
        aborted=run.get("aborted") or (None if state == "complete" else ("killed" if state == "running" else state)),
        sample_interval_s=float(run.get("sample_interval_s", 1.0)),
    )
    return RawBundle(path=path, run=run, inputs=inputs, recording=recording, events=events)


def is_finalised(path: Path) -> bool:
    return (path / "evidence.json").is_file()


def read_evidence(path: Path, *, verify: bool = True) -> Evidence:
    """The finished evidence of a bundle, after checking its manifest (EvidenceError if the
    manifest fails or the bundle has no evidence.json)."""
    if not path.is_dir():
        raise EvidenceError(f"{path}: no such bundle directory")
    if not is_finalised(path):
        raise EvidenceError(f"{path}: the run never finished writing evidence.json (incomplete bundle)")
    if verify:
        verify_manifest(path)
    data = _read_json(path / "evidence.json")
    try:
        return Evidence.from_json(data)
    except EvidenceError as exc:
        raise EvidenceError(f"{path}: {exc}") from None
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
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
