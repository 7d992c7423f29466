"""chaos: declarative chaos and failover drills for streaming chat platforms.

The public surface. Heavy parts (the orchestrator, the load driver) are imported on first
use, so `import chaos` stays cheap for the CLI and the pytest plugin.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from chaos.errors import (
    ChaosError,
    ExitCode,
    FaultError,
    PreflightError,
    SpecError,
)
from chaos.recording import Recording
from chaos.slo.verdict import Criterion, Verdict

if TYPE_CHECKING:
    from chaos.faults import FaultSession
    from chaos.load import LoadConfig, LoadController
    from chaos.run import RunOptions, RunResult, run_drill, run_drill_sync
    from chaos.slo import EvaluationConfig, Report, evaluate
    from chaos.spec import Drill, Environment, load_drill, load_environment

__version__ = "0.1.0"

_LAZY = {
    "Drill": "chaos.spec",
    "Environment": "chaos.spec",
    "load_drill": "chaos.spec",
    "load_environment": "chaos.spec",
    "run_drill": "chaos.run",
    "run_drill_sync": "chaos.run",
    "RunOptions": "chaos.run",
    "RunResult": "chaos.run",
    "EvaluationConfig": "chaos.slo",
    "Report": "chaos.slo",
    "evaluate": "chaos.slo",
    "FaultSession": "chaos.faults",
    "LoadConfig": "chaos.load",
    "LoadController": "chaos.load",
}

__all__ = [
    "ChaosError",
    "Criterion",
    "Drill",
    "Environment",
    "EvaluationConfig",
    "ExitCode",
    "FaultError",
    "FaultSession",
    "LoadConfig",
    "LoadController",
    "PreflightError",
    "Recording",
    "Report",
    "RunOptions",
    "RunResult",
    "SpecError",
    "Verdict",
    "__version__",
    "evaluate",
    "load_drill",
    "load_environment",
    "run_drill",
    "run_drill_sync",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'chaos' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
