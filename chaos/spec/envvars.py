"""`${VAR}` and `${VAR:-default}` expansion, done at run time so models keep raw strings."""

from __future__ import annotations

import os
from collections.abc import Mapping

from chaos.errors import SpecError, SpecIssue
from chaos.redact import register_variable


def expand_env(value: str, environ: Mapping[str, str] = os.environ, *, where: str = "") -> str:
    """Resolve `${VAR}` and `${VAR:-default}` in `value` (defaults may contain `{...}`).

    A variable that is unset (or empty, for the `:-` form) without a default raises a
    SpecError naming the variable and, if given, `where` (e.g. "environments/x.yaml").
    A value read from the process environment becomes a known secret (chaos.redact), so
    whatever it ends up in is redacted when written or printed.
    """
    out: list[str] = []
    i = 0
    while True:
        start = value.find("${", i)
        if start < 0:
            out.append(value[i:])
            return "".join(out)
        out.append(value[i:start])
        end = _matching_brace(value, start + 2)
        if end < 0:
            raise _error(where, f"unterminated '${{' in {value!r}")
        body = value[start + 2 : end]
        name, sep, default = body.partition(":-")
        if not name or not (name[0].isalpha() or name[0] == "_") or not all(
            c.isalnum() or c == "_" for c in name
        ):
            raise _error(where, f"'${{{body}}}' does not name an environment variable")
        resolved = environ.get(name)
        if resolved and environ is os.environ:  # a default is written in the file: no secret
            register_variable(name, resolved)
        if sep and not resolved:
            resolved = expand_env(default, environ, where=where)
        if resolved is None:
            raise _error(where, f"environment variable {name} is not set and has no default")
        out.append(resolved)
        i = end + 1


def _matching_brace(text: str, i: int) -> int:
    depth = 1
    while i < len(text):
        if text[i] == "{":
            depth += 1
        elif text[i] == "}":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    return -1


def _error(where: str, message: str) -> SpecError:
    return SpecError(SpecIssue(where or "<environment>", None, None, "", message))
