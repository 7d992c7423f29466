"""Where load workers run: `local` processes or `ray` actors, behind one interface; the
controller merges the same windows from either."""

from __future__ import annotations

from typing import TYPE_CHECKING

from chaos.load.backends.base import (
    Backend,
    BackendChoice,
    BackendKind,
    Placement,
    Strategy,
    WorkerChannel,
)
from chaos.load.backends.local import LocalBackend

if TYPE_CHECKING:
    from chaos.spec.environment import LoadBackend

__all__ = [
    "Backend",
    "BackendChoice",
    "BackendKind",
    "LocalBackend",
    "Placement",
    "Strategy",
    "WorkerChannel",
    "backend_choice",
    "open_backend",
]


def backend_choice(spec: LoadBackend) -> BackendChoice:
    """The environment's `load` section as the load driver's own value."""
    return BackendChoice(
        kind=spec.backend, address=spec.address, workers=spec.workers,
        workers_per_node=spec.workers_per_node, resources=dict(spec.resources),
        labels=dict(spec.labels), strategy=spec.strategy,
    )


def open_backend(choice: BackendChoice | None) -> Backend:
    """The backend `choice` names (local when None); Ray is imported only for `ray`."""
    if choice is None or choice.kind == "local":
        return LocalBackend()
    from chaos.load.backends.ray_backend import RayBackend

    return RayBackend(choice)
