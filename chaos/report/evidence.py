"""The evidence document (`evidence.json`): what a run measured, how it was judged, and its inputs."""

from __future__ import annotations

import dataclasses
import os
import platform
import socket
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chaos.errors import EvidenceError
from chaos.recording import Recording
from chaos.report.series import driver_figures, load_totals
from chaos.slo.verdict import Criterion, Verdict

EVIDENCE_SCHEMA = "chaos.evidence"
EVIDENCE_SCHEMA_VERSION = 1


@dataclass(frozen=True, slots=True)
class Evidence:
    """Everything a bundle says about one run; the renderers read only this."""

    run_id: str
    drill: str
    state: str  # complete | aborted | interrupted | error | incomplete
    recording: Recording
    verdict: Verdict
    criteria: tuple[Criterion, ...]
    failover: Mapping[str, Any] = field(default_factory=dict)  # region failover timings
    report: Mapping[str, Any] = field(default_factory=dict)  # the evaluator's own JSON form
    inputs: Mapping[str, Any] = field(default_factory=dict)  # drill, environment (redacted), evaluation
    meta: Mapping[str, Any] = field(default_factory=dict)  # tool, host, git, options, created_at
    events: tuple[Mapping[str, Any], ...] = ()

    @property
    def complete(self) -> bool:
        return self.recording.complete and self.state == "complete"

    def to_json(self) -> dict[str, Any]:
        rec = self.recording
        return {
            "schema": EVIDENCE_SCHEMA,
            "schema_version": EVIDENCE_SCHEMA_VERSION,
            "run_id": self.run_id,
            "drill": self.drill,
            "state": self.state,
            "complete": self.complete,
            "aborted": rec.aborted,
            "verdict": self.verdict.value,
            "started_at": rec.started_at,
            "ended_at": rec.ended_at,
            "time_scale": rec.time_scale,
            "load_scale": rec.load_scale,
            **dict(self.meta),
            "inputs": dict(self.inputs),
            "timeline": [dataclasses.asdict(p) for p in rec.phases],
            "criteria": [c.to_json() for c in self.criteria],
            "faults": [_fault_json(f) for f in rec.to_json()["faults"]],
            "failover": dict(self.failover),
            "load": dataclasses.asdict(load_totals(rec)),
            "driver": dataclasses.asdict(driver_figures(rec)),
            "report": dict(self.report),
            "events": list(self.events),
            "recording": rec.to_json(),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Evidence:
        if data.get("schema") != EVIDENCE_SCHEMA:
            raise EvidenceError(f"not a chaos evidence document (schema {data.get('schema')!r})")
        if data.get("schema_version") != EVIDENCE_SCHEMA_VERSION:
            raise EvidenceError(
                f"evidence schema version {data.get('schema_version')} is not supported "
                f"(this tool reads version {EVIDENCE_SCHEMA_VERSION})"
            )
        meta_keys = ("tool", "host", "git", "options", "created_at", "bundle")
        return cls(
            run_id=data["run_id"],
            drill=data["drill"],
            state=data["state"],
            recording=Recording.from_json(data["recording"]),
            verdict=Verdict(data["verdict"]),
            criteria=tuple(Criterion.from_json(c) for c in data["criteria"]),
            failover=data.get("failover", {}),
            report=data.get("report", {}),
            inputs=data.get("inputs", {}),
            meta={k: data[k] for k in meta_keys if k in data},
            events=tuple(data.get("events", ())),
        )


def _fault_json(fault: Mapping[str, Any]) -> dict[str, Any]:
    """The fault journal entry as DESIGN section 6 names it (applied_at, reverted_at first)."""
    head = {k: fault.get(k) for k in ("id", "scenario", "mode", "target", "applied_at", "reverted_at")}
    return {**head, **{k: v for k, v in fault.items() if k not in head}}


def safe_verdict(verdict: Verdict, *, complete: bool) -> Verdict:
    """A run that did not finish can never claim PASS."""
    if not complete and verdict is Verdict.PASS:
        return Verdict.INCONCLUSIVE
    return verdict


def host_info() -> dict[str, Any]:
    return {
        "hostname": socket.gethostname(),
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "cpus": os.cpu_count(),
        "pid": os.getpid(),
    }


def git_info(paths: Sequence[Path]) -> dict[str, Any] | None:
    """The commit the drill files were last committed in, and whether they differ from it;
    None when they are not inside a git checkout (or git is absent)."""
    existing = [p.resolve() for p in paths if p.exists()]
    if not existing:
        return None
    cwd = existing[0].parent
    try:
        head = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, timeout=10, check=False
        )
        if head.returncode != 0:
            return None
        status = subprocess.run(
            ["git", "status", "--porcelain", "--", *map(str, existing)],
            cwd=cwd, capture_output=True, text=True, timeout=10, check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return {
        "commit": head.stdout.strip(),
        "files": [str(p) for p in existing],
        "dirty": bool(status.stdout.strip()),
    }


def evidence_meta(
    *, options: Mapping[str, Any], drill_paths: Sequence[Path], version: str
) -> dict[str, Any]:
    return {
        "tool": {"name": "chaos-drills", "version": version},
        "host": host_info(),
        "git": git_info(drill_paths),
        "options": dict(options),
        "created_at": time.time(),
    }
