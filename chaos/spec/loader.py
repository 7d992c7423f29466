"""Load drill and environment files into models; every problem becomes one located SpecIssue.

The loader is a boundary: nothing but SpecError leaves it, whatever the input.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from chaos.errors import SpecError, SpecIssue
from chaos.spec.checks import (
    Problem,
    drill_environment_problems,
    drill_problems,
    environment_problems,
)
from chaos.spec.drill import Drill
from chaos.spec.environment import Environment
from chaos.spec.errors import validation_issues
from chaos.spec.yamlmap import Document, locate, parse_yaml

M = TypeVar("M", bound=BaseModel)


def read_text(path: str | Path) -> str:
    try:
        return Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise SpecError(SpecIssue(str(path), None, None, "", f"cannot read the file: {reason}")) from None


def parse_document(text: str, path: str) -> Document:
    """Parse YAML text; raise SpecError for syntax errors, duplicate keys, or a non-mapping."""
    document, issues = parse_yaml(text, path)
    if issues:
        raise SpecError(issues)
    assert document is not None  # Invariant: no issues means a document
    if document.data is None:
        raise SpecError(SpecIssue(path, 1, 1, "", "the file is empty; expected a mapping with 'version: 1'"))
    if not isinstance(document.data, dict):
        where = locate(document.root, ())
        raise SpecError(SpecIssue(path, where.line, where.column, "",
                                  "the document must be a mapping (key: value), not a list or a value"))
    return document


def _issues(document: Document, problems: list[Problem]) -> list[SpecIssue]:
    out = []
    for loc, message in problems:
        where = locate(document.root, loc)
        out.append(SpecIssue(document.path, where.line, where.column, where.field, message))
    return out


def _raise(issues: list[SpecIssue]) -> None:
    unique = list(dict.fromkeys(issues))
    unique.sort(key=lambda i: (i.line or 0, i.column or 0))
    if unique:
        raise SpecError(unique)


def _printable(issue: SpecIssue) -> SpecIssue:
    """Keep every issue on one line, even when a key holds a newline or a control character."""

    def clean(text: str) -> str:
        return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)

    return SpecIssue(issue.path, issue.line, issue.column, clean(issue.field), clean(issue.message))


def _guarded(path: str, build: Callable[[], M]) -> M:
    """Run `build`; any exception other than SpecError is a loader bug reported as a SpecError."""
    try:
        return build()
    except SpecError as exc:
        issues = exc.issues
    except RecursionError:
        issues = [SpecIssue(path, 1, 1, "", "the document nests too deeply or refers to itself")]
    except Exception as exc:  # the boundary: a one-line error, never a traceback
        issues = [SpecIssue(path, 1, 1, "", f"cannot load the file: {type(exc).__name__}: {exc}")]
    raise SpecError([_printable(i) for i in issues]) from None


def _validate(document: Document, model: type[M]) -> M:
    try:
        return model.model_validate(document.data)
    except ValidationError as exc:
        _raise(validation_issues(exc, document.root, model, document.path))
        raise AssertionError("unreachable") from None


def parse_drill(text: str, *, path: str = "<drill>") -> Drill:
    """A Drill from YAML text (schema and semantic checks; all issues at once)."""

    def build() -> Drill:
        document = parse_document(text, path)
        drill = _validate(document, Drill)
        _raise(_issues(document, drill_problems(drill)))
        return drill

    return _guarded(path, build)


def parse_environment(text: str, *, path: str = "<environment>", allow_production: bool = False) -> Environment:
    """An Environment from YAML text; `kind: production` is refused unless allowed."""

    def build() -> Environment:
        document = parse_document(text, path)
        env = _validate(document, Environment)
        _raise(_issues(document, environment_problems(env, allow_production=allow_production)))
        return env

    return _guarded(path, build)


def load_model(
    path: str | Path,
    model: type[M],
    *,
    what: str,
    prepare: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
    empty_ok: bool = False,
) -> M:
    """A model from the YAML mapping at `path`, for files other than drills and environments
    (release checklist, testbed config); every problem is a SpecError naming file, line and field.

    `prepare` turns the file's mapping into the model's input (e.g. merges it over defaults);
    errors are still located in the file. `what` names the document ("the testbed config").
    """
    text = read_text(path)
    name = str(path)

    def build() -> M:
        document, issues = parse_yaml(text, name)
        if issues:
            raise SpecError(issues)
        assert document is not None  # Invariant: no issues means a document
        data = {} if document.data is None and empty_ok else document.data
        if not isinstance(data, dict):
            where = locate(document.root, ())
            raise SpecError(SpecIssue(name, where.line, where.column, "",
                                      f"{what} must be a mapping (key: value)"))
        try:
            return model.model_validate(prepare(data) if prepare is not None else data)
        except ValidationError as exc:
            _raise(validation_issues(exc, document.root, model, name))
            raise AssertionError("unreachable") from None

    return _guarded(name, build)


def load_drill(path: str | Path) -> Drill:
    return parse_drill(read_text(path), path=str(path))


def load_environment(path: str | Path, *, allow_production: bool = False) -> Environment:
    return parse_environment(read_text(path), path=str(path), allow_production=allow_production)


def check_drill_against_environment(
    drill: Drill, env: Environment, *, drill_path: str | Path, env_path: str | Path
) -> None:
    """Raise SpecError (located in the drill file) if the drill does not fit the environment."""
    problems = drill_environment_problems(drill, env)
    if not problems:
        return
    path = str(drill_path)
    try:
        document: Document | Any = parse_yaml(Path(path).read_text(encoding="utf-8"), path)[0]
    except (OSError, UnicodeDecodeError):
        document = None
    if document is None:
        document = Document(path, None, None)
    issues = [
        SpecIssue(i.path, i.line, i.column, i.field, f"{i.message} ({env_path})")
        for i in _issues(document, problems)
    ]
    _raise(issues)
