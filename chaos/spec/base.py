"""The base model of every spec type: frozen, strict about unknown keys, YAML-named fields,
and no control characters in names, ids, URLs or any other one-line text."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from chaos.spec.text import first_control

# Fields whose text may span lines (free text, a chat message, a shell command). Every other
# text value is one line: a newline in a name would forge a line of `chaos validate` output,
# a CR/LF in a URL, path or token would split the HTTP request it goes into.
MULTILINE_FIELDS = frozenset({"description", "proves", "message", "command"})
_MULTILINE_ALLOWED = "\n\t"
# Free-form values (a JSON request body) are checked by whoever sends them.
_UNCHECKED_FIELDS = frozenset({"body"})


class SpecModel(BaseModel):
    """Frozen, unknown keys forbidden; attribute names equal YAML keys (`for` -> `for_`)."""

    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        populate_by_name=True,
        validate_default=False,
        use_attribute_docstrings=True,
    )

    @field_validator("*", mode="after")
    @classmethod
    def _no_control_characters(cls, value: Any, info: ValidationInfo) -> Any:
        name = info.field_name or ""
        if name in _UNCHECKED_FIELDS:
            return value
        allow = _MULTILINE_ALLOWED if name in MULTILINE_FIELDS else ""
        for where, text in _texts(value):
            bad = first_control(text, allow=allow)
            if bad is not None:
                raise PydanticCustomError("spec_field", "{message}", {
                    "field": where,
                    "message": f"must not contain control characters (found {bad!r})",
                })
        return value


def _texts(value: Any) -> list[tuple[tuple[str | int, ...], str]]:
    """The text inside a field's value with its place: the value itself, list items, and
    mapping keys and values (nested models check themselves)."""
    if isinstance(value, str):
        return [((), value)]
    if isinstance(value, tuple | list):
        return [((i,), v) for i, v in enumerate(value) if isinstance(v, str)]
    if isinstance(value, dict):
        out: list[tuple[tuple[str | int, ...], str]] = []
        for key, item in value.items():
            if isinstance(key, str):
                out.append(((key, "[key]"), key))
            if isinstance(item, str):
                out.append(((str(key),), item))
        return out
    return []


def field_error(field: str, message: str) -> PydanticCustomError:
    """An error raised by a model validator but located at one of the model's fields.

    The loader appends `ctx["field"]` to the error location, so the message points at the
    offending key's line instead of the start of the mapping.
    """
    return PydanticCustomError("spec_field", "{message}", {"field": field, "message": message})
