"""Secret redaction for evidence: `${VAR}` references stay as written, literal secrets never leave."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

REDACTED = "<redacted>"
_SECRET_KEY = re.compile(r"(token|secret|password|passwd|api[_-]?key|authorization|credential)", re.I)
_REFERENCE = re.compile(r"^\$\{[A-Za-z_][A-Za-z0-9_]*(:-.*)?\}$")


def redact(value: Any, *, secrets: Iterable[str] = ()) -> Any:
    """A copy of `value` (JSON-like) where secret-named keys hold only `${VAR}` references
    or `<redacted>`, and any known secret string is replaced wherever it appears."""
    known = [s for s in secrets if s and len(s) >= 4]
    return _redact(value, known, secret_key=False)


def _redact(value: Any, known: list[str], *, secret_key: bool) -> Any:
    if isinstance(value, Mapping):
        return {
            str(k): _redact(v, known, secret_key=bool(_SECRET_KEY.search(str(k))))
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [_redact(v, known, secret_key=secret_key) for v in value]
    if isinstance(value, str):
        if secret_key and not _REFERENCE.match(value):
            return REDACTED
        for secret in known:
            value = value.replace(secret, REDACTED)
        return value
    return value
