"""Turn pydantic validation errors into one-line `file:line:column: field: sentence` issues."""

from __future__ import annotations

import difflib
import types
import typing
from collections.abc import Sequence
from typing import Any, Union

import yaml
from pydantic import BaseModel, ValidationError

from chaos.errors import SpecIssue
from chaos.spec.text import quote
from chaos.spec.yamlmap import Loc, locate


def validation_issues(
    exc: ValidationError, root: yaml.Node | None, model: type[BaseModel], path: str
) -> list[SpecIssue]:
    issues: list[SpecIssue] = []
    for error in exc.errors(include_url=False):
        loc: Loc = tuple(error["loc"])
        kind = error["type"]
        ctx = error.get("ctx") or {}
        if kind == "spec_field":
            extra = ctx["field"]
            loc = (*loc, *extra) if isinstance(extra, tuple | list) else (*loc, str(extra))
        elif kind in ("union_tag_invalid", "union_tag_not_found"):
            loc = (*loc, str(ctx.get("discriminator", "")).strip("'"))
        extra = kind == "extra_forbidden"
        where = locate(root, loc, at_key=extra)
        message = _sentence(error, loc, model)
        issues.append(SpecIssue(path, where.line, where.column, where.field, message))
    return _drop_explained_missing(issues)


def _drop_explained_missing(issues: list[SpecIssue]) -> list[SpecIssue]:
    """`fro: 1m` gives "unknown key 'fro'; did you mean 'for'?" and "'for' is missing":
    the first says it all, so the second is dropped."""
    suggested = set()
    for issue in issues:
        if issue.message.startswith("unknown key ") and "did you mean '" in issue.message:
            name = issue.message.rsplit("did you mean '", 1)[1].rstrip("'?")
            parent = issue.field.rsplit(".", 1)[0] if "." in issue.field else ""
            suggested.add(f"{parent}.{name}" if parent else name)
    return [i for i in issues
            if not (i.message.startswith("required field ") and i.field in suggested)]


def _describe(value: Any) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list | tuple):
        return "a list"
    if value is None:
        return "empty"
    return quote(value, 40)


def _sentence(error: Any, loc: Loc, model: type[BaseModel]) -> str:
    kind: str = error["type"]
    ctx = error.get("ctx") or {}
    value = error.get("input")
    last = str(loc[-1]) if loc else ""
    if kind == "spec_field":
        return str(ctx["message"])
    if kind in ("missing", "union_tag_not_found"):
        return f"required field '{last}' is missing"
    if kind == "extra_forbidden":
        allowed = allowed_keys(model, loc[:-1])
        hint = difflib.get_close_matches(last, allowed, n=1, cutoff=0.6)
        suffix = f"; did you mean '{hint[0]}'?" if hint else (
            f"; expected one of {', '.join(repr(a) for a in allowed)}" if allowed else ""
        )
        return f"unknown key '{last}'{suffix}"
    if kind == "union_tag_invalid":
        return f"must be one of {ctx.get('expected_tags')}, not {_describe(ctx.get('tag'))}"
    if kind == "literal_error":
        return f"must be {ctx.get('expected')}, not {_describe(value)}"
    if kind == "string_pattern_mismatch":
        pattern = str(ctx.get("pattern", ""))
        if "https?" in pattern:
            return f"must be an http:// or https:// URL, not {_describe(value)}"
        return (f"must start with a letter or digit and use only letters, digits, "
                f"'_', '.' and '-', not {_describe(value)}")
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return f"must be a mapping (key: value), not {_describe(value)}"
    if kind in ("tuple_type", "list_type"):
        return f"must be a list, not {_describe(value)}"
    if kind == "string_type":
        return f"must be text, not {_describe(value)}"
    if kind in ("int_type", "int_parsing", "int_from_float"):
        return f"must be a whole number, not {_describe(value)}"
    if kind in ("float_type", "float_parsing"):
        return f"must be a number, not {_describe(value)}"
    if kind == "finite_number":
        return f"must be a finite number, not {_describe(value)}"
    if kind == "string_too_long":
        return f"must be at most {ctx.get('max_length')} characters long"
    if kind == "too_long":
        return f"must have at most {ctx.get('max_length')} items, not {ctx.get('actual_length')}"
    if kind in ("greater_than", "greater_than_equal", "less_than", "less_than_equal"):
        bound = {"greater_than": "more than", "greater_than_equal": "at least",
                 "less_than": "less than", "less_than_equal": "at most"}[kind]
        limit = next(iter(ctx.values()), "")
        return f"must be {bound} {limit}, not {_describe(value)}"
    message = str(error.get("msg", "is invalid"))
    message = message.removeprefix("Value error, ").removeprefix("Assertion failed, ")
    message = message.replace("Input should be", "must be")
    return " ".join(message.split())


def allowed_keys(model: type[BaseModel], loc: Sequence[str | int]) -> list[str]:
    """The YAML keys the model accepts at location `loc` (for did-you-mean hints)."""
    tp: Any = model
    for part in loc:
        tp = _step(tp, part)
        if tp is None:
            return []
    tp = _strip(tp, None)
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return [f.alias or name for name, f in tp.model_fields.items()]
    return []


def _strip(tp: Any, tag: str | int | None) -> Any:
    """Unwrap Annotated and Optional; pick a union member by its discriminator tag."""
    while True:
        origin = typing.get_origin(tp)
        if origin is typing.Annotated:
            tp = typing.get_args(tp)[0]
            continue
        if origin is Union or isinstance(tp, types.UnionType):
            members = [a for a in typing.get_args(tp) if a is not type(None)]
            models = [m for m in members if isinstance(m, type) and issubclass(m, BaseModel)]
            if len(members) == 1:
                tp = members[0]
                continue
            for m in models:
                for d in ("scenario", "kind"):
                    f = m.model_fields.get(d)
                    if f is not None and tag in typing.get_args(f.annotation):
                        return m
            return tp
        return tp


def _step(tp: Any, part: str | int) -> Any:
    tp = _strip(tp, part)
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        for name, f in tp.model_fields.items():
            if part in (name, f.alias):
                return f.annotation
        # a union tag that already selected this model: stay on it
        return tp if typing.get_origin(tp) is None and part != "" else None
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (tuple, list) and args:
        return args[0]
    if origin is dict and len(args) == 2:
        return args[1]
    if origin is Union or isinstance(tp, types.UnionType):
        return _strip(tp, part)
    return None
