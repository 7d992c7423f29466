"""The orchestrator: `run_drill` (async) and `run_drill_sync` (CLI, pytest plugin)."""

from __future__ import annotations

from chaos.run.entry import run_drill_sync
from chaos.run.options import RunOptions, RunResult
from chaos.run.orchestrator import run_drill
from chaos.run.rejudge import Rejudged, rejudge_bundle

__all__ = ["Rejudged", "RunOptions", "RunResult", "rejudge_bundle", "run_drill", "run_drill_sync"]
