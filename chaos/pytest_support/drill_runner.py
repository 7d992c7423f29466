"""The `drill` fixture's object: run a Drill written in Python (or loaded from a file) with the
session's --chaos-* options and get its result and report."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from chaos.pytest_support.outcome import decide, junit_properties, summary_text
from chaos.pytest_support.runner import run_drill_for_test
from chaos.pytest_support.settings import ChaosSettings
from chaos.run.options import RunResult
from chaos.spec import Drill, Environment


class DrillRunner:
    """`result = drill(d)` runs `d` (a Drill or a path) to its end and returns the RunResult
    (`.verdict`, `.report`, `.bundle`); `drill.check(result)` turns it into the test outcome
    the YAML items have. Measured values go to the test's JUnit properties."""

    def __init__(self, env: Environment, settings: ChaosSettings, item: pytest.Item) -> None:
        self._env = env
        self._settings = settings
        self._item = item

    def __call__(self, drill: Drill | str | Path, **options: Any) -> RunResult:
        """Run it; keyword arguments override RunOptions fields (e.g. time_scale=0.05)."""
        from chaos.pytest_support.runner import options_for
        from chaos.spec import load_drill

        path = Path(drill) if isinstance(drill, str | Path) else None
        spec = load_drill(path) if path is not None else drill
        assert isinstance(spec, Drill)
        opts = replace(options_for(self._settings, path), **options)
        result = run_drill_for_test(spec, self._env, self._settings, drill_path=path, options=opts)
        self._item.user_properties.extend(junit_properties(result))
        self._item.add_report_section("call", f"chaos {spec.name}", summary_text(spec.name, result))
        return result

    def check(self, result: RunResult, *, name: str = "drill") -> None:
        """Fail with the criteria table unless PASS (INCONCLUSIVE skips when allowed)."""
        decide(name, result, allow_inconclusive=self._settings.allow_inconclusive)
