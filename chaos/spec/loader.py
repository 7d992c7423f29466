"""Load drill and environment files into models; every problem becomes one located SpecIssue.

The loader is a boundary: nothing but SpecError leaves it, whatever the input, and every
input is bounded (docs/spec-limits.md): regular files of at most 1 MB, nesting, alias
expansion and numbers within their limits, at most a screenful of issues per file.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from chaos.errors import SpecError, SpecIssue
from chaos.redact import register_environment
from chaos.spec.checks import (
    Problem,
    drill_environment_problems,
    drill_problems,
    environment_problems,
)
from chaos.spec.drill import Drill
from chaos.spec.environment import Environment
from chaos.spec.errors import validation_issues
from chaos.spec.issues import finish, trim
from chaos.spec.variables import drill_fields, environment_fields, variable_problems
from chaos.spec.yamlbudget import MAX_FILE_BYTES
from chaos.spec.yamlmap import Document, locate, parse_yaml

M = TypeVar("M", bound=BaseModel)
T = TypeVar("T")


def read_text(path: str | Path) -> str:
    """The UTF-8 text of the regular file at `path`, at most MAX_FILE_BYTES (1 MB).

    Anything else is a one-line SpecError, at once: a FIFO or a device is refused without
    reading from it, undecodable bytes are reported with their line and column."""
    name = str(path)
    try:
        kind = _file_kind(os.stat(path).st_mode)
        if kind is not None:
            raise _unreadable(name, f"it is {kind}, not a regular file")
        # O_NONBLOCK: should the path have become a FIFO since, opening it does not block.
        with os.fdopen(os.open(path, os.O_RDONLY | os.O_NONBLOCK), "rb") as file:
            kind = _file_kind(os.fstat(file.fileno()).st_mode)
            if kind is not None:
                raise _unreadable(name, f"it is {kind}, not a regular file")
            data = file.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise _unreadable(name, exc.strerror or type(exc).__name__) from None
    if len(data) > MAX_FILE_BYTES:
        raise _unreadable(name, f"it is larger than {MAX_FILE_BYTES:,} bytes (the limit for a spec file)")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line_start = data.rfind(b"\n", 0, exc.start) + 1
        line = data.count(b"\n", 0, exc.start) + 1
        column = len(data[line_start:exc.start].decode("utf-8", errors="replace")) + 1
        raise SpecError(SpecIssue(name, line, column, "",
                                  f"the file is not UTF-8 text: byte 0x{data[exc.start]:02x} "
                                  "cannot be decoded; save the file as UTF-8")) from None


def _file_kind(mode: int) -> str | None:
    """What a non-regular file is ("a directory", "a FIFO", ...), None for a regular file."""
    if stat.S_ISREG(mode):
        return None
    kinds = ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a character device"),
             (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"))
    return next((text for test, text in kinds if test(mode)), "not a regular file")


def _unreadable(name: str, reason: str) -> SpecError:
    return SpecError(SpecIssue(name, None, None, "", f"cannot read the file: {reason}"))


def load_document(path: str | Path) -> Document:
    """The YAML document at `path` (any shape), within every limit; SpecError otherwise."""
    name = str(path)
    text = read_text(path)

    def build() -> Document:
        document, issues = parse_yaml(text, name)
        if issues:
            raise SpecError(issues)
        assert document is not None  # Invariant: no issues means a document
        return document

    return _guarded(name, build)


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


class _Located:
    """Issues located in files, and how many more of each one's kind were never located."""

    def __init__(self) -> None:
        self.issues: list[SpecIssue] = []
        self.more: dict[SpecIssue, int] = {}

    def add(self, document: Document, problems: list[Problem], suffix: str = "") -> _Located:
        kept, dropped = trim(problems)  # 500,000 overlaps take seconds to locate
        for (loc, message), more in zip(kept, dropped, strict=True):
            where = locate(document.root, loc)
            issue = SpecIssue(document.path, where.line, where.column, where.field, message + suffix)
            self.issues.append(issue)
            if more:
                self.more[issue] = more
        return self

    def add_file(self, path: str | Path, problems: list[Problem], suffix: str = "") -> None:
        """Problems located in the file at `path` (at line 1 when it cannot be read again)."""
        if not problems:
            return
        try:
            document = load_document(path)
        except SpecError:
            document = Document(str(path), None, None)
        self.add(document, problems, suffix)

    def raise_any(self) -> None:
        if self.issues:
            raise SpecError(finish(self.issues, more=self.more))


def _raise(issues: list[SpecIssue]) -> None:
    if issues:
        raise SpecError(finish(issues))


def _guarded(path: str, build: Callable[[], T]) -> T:
    """Run `build`; any exception other than SpecError is a loader bug reported as a SpecError."""
    try:
        return build()
    except SpecError as exc:
        issues = exc.issues
    except RecursionError:
        issues = [SpecIssue(path, 1, 1, "", "the document nests too deeply or refers to itself")]
    except Exception as exc:  # the boundary: a one-line error, never a traceback
        issues = [SpecIssue(path, 1, 1, "", f"cannot load the file: {type(exc).__name__}: {exc}")]
    raise SpecError(finish(issues)) from None


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
        _Located().add(document, drill_problems(drill)).raise_any()
        return drill

    return _guarded(path, build)


def parse_environment(text: str, *, path: str = "<environment>", allow_production: bool = False) -> Environment:
    """An Environment from YAML text; `kind: production` is refused unless allowed."""

    def build() -> Environment:
        document = parse_document(text, path)
        env = _validate(document, Environment)
        _Located().add(document, environment_problems(env, allow_production=allow_production)).raise_any()
        register_environment(env)  # its secrets are redacted from everything written or printed
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
    drill: Drill, env: Environment, *, drill_path: str | Path, env_path: str | Path,
    environ: Mapping[str, str] | None = None,
) -> None:
    """Raise SpecError if the drill does not fit the environment (located in the drill file),
    or if a `${VAR}` the run resolves is unset or resolves to an unusable value (located in
    the file that holds it)."""
    environ = os.environ if environ is None else environ
    found = _Located()
    found.add_file(env_path, variable_problems(environment_fields(env), environ))
    found.add_file(drill_path, [*drill_environment_problems(drill, env),
                                *variable_problems(drill_fields(drill), environ)], f" ({env_path})")
    found.raise_any()


def check_environment_variables(
    env: Environment, *, env_path: str | Path, environ: Mapping[str, str] | None = None
) -> None:
    """Raise SpecError if a `${VAR}` the run resolves in the environment is unset (without a
    default) or resolves to a value its field cannot take; located in the environment file."""
    found = _Located()
    found.add_file(env_path, variable_problems(environment_fields(env), os.environ if environ is None else environ))
    found.raise_any()
