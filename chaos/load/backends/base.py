"""The backend interface: where load workers run (local processes, Ray actors) and the channel
the controller hears each one through. The controller owns the merge; a backend only places
workers, starts their shares and carries messages both ways."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from chaos.load.worker import WorkerShare

BackendKind = Literal["local", "ray"]
Strategy = Literal["SPREAD", "STRICT_SPREAD"]
# Messages on a channel, as chaos.load.channel documents them:
# ("window", LoadWindow), ("done", next_seq), ("error", message).
Message = tuple[Any, ...]


@dataclass(frozen=True, slots=True)
class BackendChoice:
    """Where the workers run, as the environment's `load` section says (no Ray types here).

    Ray: `address` "auto", "ray://host:10001", or None to start a local Ray for the run;
    `workers` in all, or `workers_per_node` on every node that has `resources` (and
    `labels`); each worker reserves `cpus_per_worker` cores on its node."""

    kind: BackendKind = "local"
    address: str | None = None
    workers: int | None = None
    workers_per_node: int | None = None
    resources: Mapping[str, float] = field(default_factory=dict)
    labels: Mapping[str, str] = field(default_factory=dict)
    strategy: Strategy = "SPREAD"
    cpus_per_worker: float = 1.0
    placement_timeout_s: float = 60.0


@dataclass(frozen=True, slots=True)
class Placement:
    """Where one worker slot is: its node (name shown to operators), address and cores."""

    node: str
    address: str
    cpus: float = 1.0
    node_cpus: float | None = None  # the node's cores, where known
    pid: int | None = None

    def describe(self) -> str:
        of = f" of {self.node_cpus:g}" if self.node_cpus is not None else ""
        pid = f", pid {self.pid}" if self.pid is not None else ""
        return f"node {self.node} ({self.address}), {self.cpus:g} CPU{of}{pid}"


class WorkerChannel(Protocol):
    """One running worker as the controller sees it."""

    share: WorkerShare
    placement: Placement
    lost_reason: str | None  # set when the channel ended because the worker was lost

    def beat(self, stop_requested: bool) -> None:
        """Tell the worker the controller is alive (and whether to stop); never blocks, and
        loses nothing when dropped: the next beat carries the same state."""

    async def receive(self) -> list[Message] | None:
        """The next messages from the worker; None once the channel has ended."""

    def clock_samples(self) -> tuple[tuple[float, float, float], ...]:
        """(coordinator instant, worker clock - coordinator clock, round trip) so far."""

    async def close(self) -> None:
        """Make sure the worker is gone and release what it held (idempotent)."""


class Backend(Protocol):
    """Places workers, then starts one share on each place."""

    kind: BackendKind

    async def place(self, count: int) -> Sequence[Placement]:
        """Reserve worker places (`count` is a default a backend may override from its
        choice); PreflightError when they cannot be had or their clocks are too far off."""

    async def start(self, shares: Sequence[WorkerShare]) -> list[WorkerChannel]:
        """Start one share on each reserved place, in order. The shares' `start_wall` is on
        the coordinator's clock; a backend whose workers have other clocks converts it, and
        converts their windows back, so windows reach the controller on coordinator time."""

    async def close(self) -> None:
        """Release every place (idempotent); the workers are gone afterwards."""
