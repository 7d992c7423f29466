"""JSON Schema of drill and environment files (for editors; committed under schema/)."""

from __future__ import annotations

from typing import Any

from chaos.spec.drill import Drill
from chaos.spec.environment import Environment

_DIALECT = "https://json-schema.org/draft/2020-12/schema"


def _schema(model: type[Drill] | type[Environment], title: str, file_id: str) -> dict[str, Any]:
    schema = model.model_json_schema(by_alias=True, mode="validation")
    return {"$schema": _DIALECT, "$id": file_id, **schema, "title": title}


def drill_json_schema() -> dict[str, Any]:
    return _schema(Drill, "chaos drill", "drill.schema.json")


def environment_json_schema() -> dict[str, Any]:
    return _schema(Environment, "chaos environment", "environment.schema.json")
