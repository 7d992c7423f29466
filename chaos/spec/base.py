"""The base model of every spec type: frozen, strict about unknown keys, YAML-named fields."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict
from pydantic_core import PydanticCustomError


class SpecModel(BaseModel):
    """Frozen, unknown keys forbidden; attribute names equal YAML keys (`for` -> `for_`)."""

    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        populate_by_name=True,
        validate_default=False,
        use_attribute_docstrings=True,
    )


def field_error(field: str, message: str) -> PydanticCustomError:
    """An error raised by a model validator but located at one of the model's fields.

    The loader appends `ctx["field"]` to the error location, so the message points at the
    offending key's line instead of the start of the mapping.
    """
    return PydanticCustomError("spec_field", "{message}", {"field": field, "message": message})
