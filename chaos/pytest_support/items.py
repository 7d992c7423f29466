"""Drill YAML files as pytest items: one item per drill file, judged by its verdict."""

from __future__ import annotations

from collections.abc import Iterator
from fnmatch import fnmatch
from pathlib import Path
from typing import Any

import pytest

from chaos.pytest_support.settings import SETTINGS_KEY, ChaosSettings

YAML_SUFFIXES = (".yaml", ".yml")
RESULTS_KEY = pytest.StashKey[list[tuple[str, str, str]]]()  # (nodeid, verdict, bundle) per drill run


def is_drill_file(path: Path, settings: ChaosSettings, rootdir: Path) -> bool:
    """A YAML file whose top level is a drill (environments and release checklists are not).
    With `chaos_drills` globs set, only files matching one of them are considered."""
    if path.suffix not in YAML_SUFFIXES:
        return False
    if settings.drill_patterns:
        rel = _relative(path, rootdir)
        if not any(fnmatch(rel, pattern) or fnmatch(str(path), pattern) for pattern in settings.drill_patterns):
            return False
    if settings.env_path is not None and path.resolve() == settings.env_path.resolve():
        return False
    from chaos.cli.spec_cmds import detect_kind
    from chaos.errors import SpecError

    try:
        return detect_kind(str(path)) == "drill"
    except SpecError:
        return False  # unreadable or neither kind: not ours (CI configs, compose files...)


def _relative(path: Path, root: Path) -> str:
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return path.as_posix()


class DrillFile(pytest.File):
    """A drill YAML file; spec errors become a collection error listing file:line problems."""

    def collect(self) -> Iterator[pytest.Item]:
        from chaos.errors import SpecError
        from chaos.spec import load_drill

        try:
            drill = load_drill(self.path)
        except SpecError as exc:
            raise self.CollectError("\n".join(str(i) for i in exc.issues)) from None
        item = DrillItem.from_parent(self, name=drill.name, drill=drill)
        item.add_marker("chaos_drill")
        if drill.gate is not None:
            item.add_marker("chaos_gate")
        yield item


class DrillItem(pytest.Item):
    """One drill run: PASS passes, FAIL fails with the criteria table, INCONCLUSIVE fails unless
    --chaos-allow-inconclusive (then skips with the reason)."""

    def __init__(self, *, drill: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.drill = drill

    def runtest(self) -> None:
        from chaos.pytest_support.outcome import decide, junit_properties, summary_text
        from chaos.pytest_support.runner import load_env, run_drill_for_test

        settings = self.config.stash[SETTINGS_KEY]
        result = run_drill_for_test(self.drill, load_env(settings), settings, drill_path=self.path)
        self.user_properties.extend(junit_properties(result))
        self.add_report_section("call", "chaos", summary_text(self.drill.name, result))
        verdict = result.verdict.value if result.verdict is not None else "none"
        self.config.stash.setdefault(RESULTS_KEY, []).append(
            (self.nodeid, verdict, str(result.bundle) if result.bundle else "none"))
        decide(self.drill.name, result, allow_inconclusive=settings.allow_inconclusive)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException],
                     style: Any = None) -> str | Any:
        """The criteria table for a verdict, the located problems for a spec error, the message
        for an infrastructure error; a traceback only for a bug."""
        from chaos.errors import ChaosError, SpecError

        exc = excinfo.value
        if isinstance(exc, SpecError):
            return "\n".join(str(i) for i in exc.issues)
        if isinstance(exc, ChaosError):
            return f"{type(exc).__name__}: {exc}"
        return super().repr_failure(excinfo, style=style)

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, None, f"drill: {self.name}"
