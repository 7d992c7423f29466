"""What a run is asked to do (`RunOptions`) and what it ends with (`RunResult`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chaos.errors import ExitCode
from chaos.slo.verdict import Verdict


@dataclass(frozen=True, slots=True)
class RunOptions:
    """Knobs of one `chaos run`.

    time_scale compresses every duration of the drill (0.1: ten times shorter); load_scale
    multiplies stream counts and arrival rates. Both are recorded in the evidence, and a gate
    run that used either is INCONCLUSIVE for the gate.
    """

    time_scale: float = 1.0
    load_scale: float = 1.0
    evidence_dir: Path = Path("runs")
    allow_production: bool = False
    live: bool = True  # the rich live view (a plain line every 10 s when not a terminal)
    no_preflight: bool = False
    drill_path: Path | None = None  # recorded in the evidence (and its git commit)
    env_path: Path | None = None
    tier: str | None = None  # judge against this tier instead of the drill's
    workers: int | None = None  # load worker processes (default: the drill's / auto)
    max_driver_lag_ms: float | None = None  # driver event-loop lag p99 over this = saturated (default: the driver's)
    steady_state_timeout_s: float = 30.0  # how long steady state may take to hold before/after
    hold_all: bool = False  # hold before every fault, as if each said `hold: true`
    hold_timeout_s: float = 600.0  # a hold not resumed within this aborts the run
    control_dir: Path | None = None  # environment locks and requests (default ~/.chaos/locks)

    def __post_init__(self) -> None:
        if not self.time_scale > 0:
            raise ValueError(f"time_scale must be > 0, got {self.time_scale}")
        if not self.load_scale > 0:
            raise ValueError(f"load_scale must be > 0, got {self.load_scale}")


@dataclass(frozen=True, slots=True)
class RunResult:
    """How a run ended: its verdict, exit code, bundle and the evaluator's report."""

    verdict: Verdict | None  # None when the run never reached evaluation (preflight failed)
    exit_code: ExitCode
    bundle: Path | None
    report: Any = None  # chaos.slo.Report of the run, when evaluated
    state: str = "complete"  # complete | aborted | interrupted | error | preflight_failed | refused
    reason: str = ""  # why a run ended early (abort condition, error, signal)
