"""The Phase 16 release gate: the evidence checklist against an environment, upgrade classes, promotion verdict."""

from __future__ import annotations

from chaos.release.checklist import (
    ChangeClass,
    ChangeClassRefused,
    ReleaseResult,
    refuse_class,
    run_release,
)
from chaos.release.config import Checklist, load_checklist

__all__ = [
    "ChangeClass",
    "ChangeClassRefused",
    "Checklist",
    "ReleaseResult",
    "load_checklist",
    "refuse_class",
    "run_release",
]
