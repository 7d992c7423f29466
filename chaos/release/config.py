"""The release checklist file (`kind: release`): payload, endpoint paths, burst size, log fields."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Literal

import yaml
from pydantic import Field, ValidationError

from chaos.errors import SpecError, SpecIssue
from chaos.spec.base import SpecModel
from chaos.spec.units import Count, Duration

REQUIRED_LOG_FIELDS: tuple[str, ...] = ("request_id", "hashed_subject", "waf_decision", "plan_decision")


class Paths(SpecModel):
    """Endpoint paths below the environment's base URL (chat and health come from the environment)."""

    db_health: str = Field(default="/db/health", pattern=r"^/")
    whoami: str = Field(default="/auth/whoami", pattern=r"^/")


class Burst(SpecModel):
    requests: Count = 30
    """Concurrent chat requests from one subject; must exceed the target's per-subject limit."""


class Privacy(SpecModel):
    required_fields: tuple[str, ...] = REQUIRED_LOG_FIELDS
    wait: Duration = timedelta(seconds=5)
    """How long to wait for the canary request's log line to appear."""


class Checklist(SpecModel):
    """The Phase 16 release-ready gate as data; every field has the seed's default."""

    version: Literal[1] = 1
    kind: Literal["release"] = "release"
    name: str = Field(default="release", min_length=1)
    description: str = ""
    payload: str = Field(default="hi", min_length=1)
    """The safe chat payload of the happy path and the burst (Phase 16: "hi")."""
    paths: Paths = Paths()
    burst: Burst = Burst()
    privacy: Privacy = Privacy()
    timeout: Duration = timedelta(seconds=15)
    """Bound of each HTTP request, streaming included."""


def load_checklist(path: Path) -> Checklist:
    """Parse a checklist file; every problem is a SpecError naming the file, line and field."""
    try:
        text = path.read_text("utf-8")
    except OSError as exc:
        raise SpecError(SpecIssue(str(path), None, None, "", f"cannot read: {exc.strerror}")) from None
    try:
        data = yaml.safe_load(text)
        root = yaml.compose(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        message = f"invalid YAML: {exc}".replace("\n", " ")
        raise SpecError(SpecIssue(str(path), line, None, "", message)) from None
    if not isinstance(data, dict):
        raise SpecError(SpecIssue(str(path), 1, None, "", "a release checklist must be a mapping"))
    try:
        return Checklist.model_validate(data)
    except ValidationError as exc:
        issues = []
        for err in exc.errors():
            loc = [str(p) for p in err["loc"]]
            issues.append(SpecIssue(str(path), _line_of(root, loc), None, ".".join(loc), err["msg"]))
        raise SpecError(issues) from None


def _line_of(node: yaml.Node | None, loc: list[str]) -> int | None:
    """1-based line of the deepest key of `loc` present in the document."""
    line = None
    for key in loc:
        if not isinstance(node, yaml.MappingNode):
            break
        for k, v in node.value:
            if isinstance(k, yaml.ScalarNode) and k.value == key:
                line, node = k.start_mark.line + 1, v
                break
        else:
            break
    return line
