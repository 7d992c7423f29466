"""The invalid corpus: each file yields exactly its expected one-line issues, line and column exact.

A corpus file starts with `# expect: LINE:COL: field: message` (several issues joined by
` || `); `d-*` files are drills, `e-*` environments, `dx-*` drills checked against
`corpus-env.yaml` (the `# env: corpus` line).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from chaos.errors import SpecError
from chaos.spec import check_drill_against_environment, load_drill, load_environment

CORPUS = Path(__file__).parent / "corpus"
CASES = sorted(p for p in CORPUS.glob("*.yaml") if p.name != "corpus-env.yaml")
SEPARATOR = " || "


def actual_issues(path: Path) -> list[str]:
    """The issues the loader reports for one corpus file, without the path prefix."""
    try:
        if path.name.startswith("e-"):
            load_environment(path)
        else:
            drill = load_drill(path)
            if path.name.startswith("dx-"):
                env = load_environment(CORPUS / "corpus-env.yaml")
                check_drill_against_environment(
                    drill, env, drill_path=path, env_path="corpus-env.yaml")
    except SpecError as exc:
        prefix = f"{path}:"
        return [str(issue).removeprefix(prefix) for issue in exc.issues]
    return []


def expected_issues(path: Path) -> list[str]:
    first = path.read_text(encoding="utf-8").splitlines()[0]
    assert first.startswith("# expect: "), f"{path.name}: first line must be '# expect: ...'"
    return first.removeprefix("# expect: ").split(SEPARATOR)


def test_corpus_is_large_enough() -> None:
    """The corpus holds at least 30 invalid drills and environments."""
    assert len(CASES) >= 30


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_invalid_file_reports_expected_issues(path: Path) -> None:
    """Each invalid file yields exactly its expected issues with exact line and column."""
    assert actual_issues(path) == expected_issues(path)


def test_corpus_environment_is_valid() -> None:
    """The environment the dx-* drills are checked against is itself valid."""
    load_environment(CORPUS / "corpus-env.yaml")
