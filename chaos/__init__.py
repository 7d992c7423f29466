"""chaos: declarative chaos and failover drills for streaming chat platforms."""

from __future__ import annotations

from chaos.errors import (
    ChaosError,
    ExitCode,
    FaultError,
    PreflightError,
    SpecError,
)
from chaos.recording import Recording
from chaos.slo.verdict import Criterion, Verdict

__version__ = "0.1.0"

__all__ = [
    "ChaosError",
    "Criterion",
    "ExitCode",
    "FaultError",
    "PreflightError",
    "Recording",
    "SpecError",
    "Verdict",
    "__version__",
]
