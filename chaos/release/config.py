"""The release checklist file (`kind: release`): payload, endpoint paths, burst size, log fields."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Literal

from pydantic import Field

from chaos.spec.base import SpecModel
from chaos.spec.loader import load_model
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
    return load_model(path, Checklist, what="a release checklist")
