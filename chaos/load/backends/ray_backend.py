"""The Ray backend: load workers as Ray actors spread over a cluster's nodes by a placement
group (SPREAD or STRICT_SPREAD), each owning a worker process that drives its share on its
own loop and core (chaos.load.backends.ray_actor); the coordinator polls them for windows
(the poll is their heartbeat) and measures their clocks.

Ray is an optional extra, imported only here and only when a run asks for it.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import replace
from types import ModuleType
from typing import Any

import anyio

from chaos.errors import LoadError, PreflightError
from chaos.load.backends.base import BackendChoice, BackendKind, Message, Placement, WorkerChannel
from chaos.load.backends.clock import (
    WINDOW_WIDTH_S,
    ClockSample,
    ClockTrack,
    best_sample,
    clock_sample,
    offset_problem,
)
from chaos.load.backends.ray_actor import LoadActor
from chaos.load.schedule import WindowEdges
from chaos.load.worker import WorkerShare
from chaos.recording import LoadWindow

RAY_INSTALL = "pip install 'chaos-drills[ray]'"
POLL_S = 0.25  # one exchange (heartbeat in, windows out) per worker this often
READY_POLL_S = 0.02  # how often an outstanding exchange is checked, without blocking the loop
# A Ray worker stops by itself this long after the coordinator's last exchange: the
# coordinator's death stops all load well within 10 s even where Ray would not kill the actors.
HEARTBEAT_TIMEOUT_S = 5.0
UNRESPONSIVE_S = HEARTBEAT_TIMEOUT_S + 3.0  # an actor silent this long has stopped: it is lost
CLOCK_PROBES = 5
START_TIMEOUT_S = 30.0
LOCAL_OBJECT_STORE_BYTES = 100_000_000  # a Ray started for the run carries windows only
_SYSTEM_RESOURCES = ("CPU", "GPU", "memory", "object_store_memory")

log = logging.getLogger("chaos.load")


def require_ray() -> ModuleType:
    """The `ray` module, or a one-line LoadError naming the install command."""
    try:
        import ray
    except ImportError:
        raise LoadError(f"load.backend ray needs Ray, which is not installed: {RAY_INSTALL}") from None
    return ray


def node_name(node: Mapping[str, Any]) -> str:
    """A node as operators read it: the start of its Ray id and its custom resources."""
    custom = sorted(k for k in node.get("Resources", {})
                    if k not in _SYSTEM_RESOURCES and not k.startswith(("node:", "accelerator_type:")))
    return str(node["NodeID"])[:8] + (f" [{', '.join(custom)}]" if custom else "")


def eligible_nodes(nodes: Sequence[Mapping[str, Any]], choice: BackendChoice) -> list[Mapping[str, Any]]:
    """Alive nodes with a worker's CPU, every resource in `choice.resources` and its labels."""
    out = []
    for node in nodes:
        have = node.get("Resources", {})
        labels = node.get("Labels", {}) or {}
        if (node.get("Alive") and have.get("CPU", 0.0) >= choice.cpus_per_worker
                and all(have.get(k, 0.0) >= v for k, v in choice.resources.items())
                and all(labels.get(k) == v for k, v in choice.labels.items())):
            out.append(node)
    return out


def worker_count(choice: BackendChoice, eligible: int, default: int) -> int:
    """`workers`, else `workers_per_node` on every eligible node, else the drill's count."""
    if choice.workers is not None:
        return choice.workers
    if choice.workers_per_node is not None:
        return choice.workers_per_node * eligible
    return default


def connect(ray: ModuleType, address: str | None) -> bool:
    """Join the cluster at `address` (None: start a local Ray for this run); True when this
    call connected (the caller then disconnects)."""
    if ray.is_initialized():
        return False
    kwargs: dict[str, Any] = {"log_to_driver": False, "logging_level": logging.WARNING,
                              "namespace": "chaos-load"}
    if address is None:
        kwargs |= {"address": "local", "include_dashboard": False,
                   "object_store_memory": LOCAL_OBJECT_STORE_BYTES}
    else:
        kwargs["address"] = address
    main = threading.current_thread() is threading.main_thread()
    previous = signal.getsignal(signal.SIGTERM) if main else None
    try:
        ray.init(**kwargs)
    except Exception as exc:  # Ray raises ConnectionError, RuntimeError, ValueError...
        raise PreflightError("ray cluster", f"cannot connect to {address or 'a local Ray'}: "
                             f"{_one_line(exc)}") from None
    finally:
        if main:  # ray.init makes SIGTERM exit the process; the run handles SIGTERM itself
            signal.signal(signal.SIGTERM, previous)
    return True


def _one_line(exc: BaseException, limit: int = 200) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."


class RayChannel:
    """One actor as the controller hears it: an exchange every POLL_S carries the heartbeat
    and the stop request in, and the windows out (shifted onto coordinator time)."""

    def __init__(self, ray: ModuleType, actor: Any, share: WorkerShare, placement: Placement,
                 clock: ClockSample) -> None:
        self._ray = ray
        self._actor = actor
        self.share = share  # on coordinator time
        self.placement = placement
        self.lost_reason: str | None = None
        self._offset = clock.offset_s
        self._clock = ClockTrack(clock)
        self._edges = WindowEdges(share.config.window_cuts_s)
        self._stop = False
        self._acked = 0
        self._ref: Any = None
        self._sent = 0.0
        self._next_at = 0.0
        self._last_reply = time.time()
        self._drift_logged = False

    def beat(self, stop_requested: bool) -> None:
        self._stop = self._stop or stop_requested  # the next exchange carries it

    async def receive(self) -> list[Message] | None:
        ray = self._ray
        while self.lost_reason is None:
            now = time.time()
            if self._ref is None:
                if now < self._next_at:
                    await anyio.sleep(self._next_at - now)
                    continue
                self._sent = time.time()
                self._ref = self._actor.exchange.remote(self._stop, self._acked)
            ready, _ = ray.wait([self._ref], timeout=0)
            if not ready:
                if time.time() - self._last_reply > UNRESPONSIVE_S:
                    self._lose(f"no answer for {UNRESPONSIVE_S:g} s")
                    break
                await anyio.sleep(READY_POLL_S)
                continue
            ref, self._ref = self._ref, None
            self._next_at = self._sent + POLL_S
            try:
                worker_time, first, messages, ended = ray.get(ref)
            except ray.exceptions.ActorUnavailableError:
                continue  # transient (a restarting raylet, a network blip): ask again
            except ray.exceptions.RayActorError as exc:
                self._lose(f"the actor died: {_one_line(exc)}")
                break
            received = time.time()
            self._last_reply = received
            sample = clock_sample(self._sent, worker_time, received)
            self._clock.add(sample)
            if abs(sample.offset_s - self._offset) > WINDOW_WIDTH_S and not self._drift_logged:
                self._drift_logged = True
                log.warning("load worker %s on node %s: its clock moved %+.3f s since the start "
                            "(over the %g s window); its windows keep the start offset",
                            self.share.worker_id, self.placement.node,
                            sample.offset_s - self._offset, WINDOW_WIDTH_S)
            fresh = messages[max(0, self._acked - first):]
            self._acked = max(self._acked, first + len(messages))
            if fresh:
                return [self._to_coordinator(m) for m in fresh]
            if ended:  # after its last message: a worker that said "done" is not read again
                self._lose(f"its worker process (pid {self.placement.pid}) exited without finishing its share")
        return None

    def _lose(self, reason: str) -> None:
        self.lost_reason = reason
        with contextlib.suppress(Exception):  # it may be gone already: that is the point
            self._ray.kill(self._actor, no_restart=True)

    def _to_coordinator(self, message: Message) -> Message:
        """A window on the worker's clock -> the same window on the coordinator's: its edges
        are the coordinator's own (exact), its request instants shifted by the offset."""
        if message[0] != "window" or not isinstance(message[1], LoadWindow) or self._offset == 0.0:
            return message
        w: LoadWindow = message[1]
        d = self._offset
        start = self.share.start_wall + self._edges.edge(w.seq)
        edge_end = self.share.start_wall + self._edges.edge(w.seq + 1)
        end = w.end - d
        if abs(end - edge_end) < 0.001:
            end = edge_end
        failed = tuple((rid, cls, code, s - d, e - d) for rid, cls, code, s, e in w.failed)
        return ("window", replace(w, start=start, end=max(start, end), failed=failed))

    def clock_samples(self) -> tuple[tuple[float, float, float], ...]:
        return self._clock.samples()

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            self._ray.kill(self._actor, no_restart=True)


class RayBackend:
    """Workers as actors of one placement group on a Ray cluster."""

    kind: BackendKind = "ray"

    def __init__(self, choice: BackendChoice) -> None:
        self.choice = choice
        self._ray: ModuleType | None = None
        self._connected = False
        self._group: Any = None
        self._actors: list[Any] = []
        self._placements: list[Placement] = []
        self._clocks: list[ClockSample] = []
        self._channels: list[RayChannel] = []

    async def place(self, count: int) -> Sequence[Placement]:
        if self._placements:
            return tuple(self._placements)
        ray = self._ray = require_ray()
        self._connected = connect(ray, self.choice.address)
        try:
            await anyio.to_thread.run_sync(self._place, ray, count)
        except BaseException:
            with anyio.CancelScope(shield=True):
                await self.close()
            raise
        return tuple(self._placements)

    def _place(self, ray: ModuleType, default_count: int) -> None:
        from ray.util.placement_group import placement_group, remove_placement_group
        from ray.util.scheduling_strategies import PlacementGroupSchedulingStrategy

        choice = self.choice
        nodes = ray.nodes()
        eligible = eligible_nodes(nodes, choice)
        wanted = {"CPU": choice.cpus_per_worker, **choice.resources}
        labels = f" and labels {dict(choice.labels)}" if choice.labels else ""
        if not eligible:
            raise PreflightError("load workers", f"no alive Ray node has {wanted}{labels} "
                                 f"({len(nodes)} node(s) in the cluster)")
        count = worker_count(choice, len(eligible), default_count)
        if choice.strategy == "STRICT_SPREAD" and count > len(eligible):
            raise PreflightError("load workers", f"STRICT_SPREAD needs {count} nodes with {wanted}"
                                 f"{labels}; the cluster has {len(eligible)}")
        group = self._group = placement_group(
            [dict(wanted) for _ in range(count)], strategy=choice.strategy,
            bundle_label_selector=[dict(choice.labels) for _ in range(count)] if choice.labels else None,
        )
        try:
            ray.get(group.ready(), timeout=choice.placement_timeout_s)
        except ray.exceptions.GetTimeoutError:
            remove_placement_group(group)
            self._group = None
            raise PreflightError("load workers", f"Ray could not place {count} workers of {wanted}"
                                 f"{labels} ({choice.strategy}) within "
                                 f"{choice.placement_timeout_s:g} s on {len(eligible)} eligible "
                                 "node(s)") from None
        actor_class = ray.remote(LoadActor)
        self._actors = [
            actor_class.options(
                num_cpus=choice.cpus_per_worker, resources=dict(choice.resources),
                max_restarts=0, max_task_retries=0,
                scheduling_strategy=PlacementGroupSchedulingStrategy(group, placement_group_bundle_index=i),
            ).remote()
            for i in range(count)
        ]
        try:
            wheres = ray.get([a.where.remote() for a in self._actors], timeout=choice.placement_timeout_s)
        except (ray.exceptions.GetTimeoutError, ray.exceptions.RayActorError) as exc:
            raise PreflightError("load workers", f"the Ray load workers did not start: "
                                 f"{_one_line(exc)}") from None
        by_id = {n["NodeID"]: n for n in nodes}
        problems = []
        for i, (actor, where) in enumerate(zip(self._actors, wheres, strict=True)):
            node = by_id.get(where["node_id"], {"NodeID": where["node_id"]})
            self._placements.append(Placement(
                node=node_name(node), address=str(node.get("NodeManagerAddress", where["hostname"])),
                cpus=choice.cpus_per_worker,
                node_cpus=node.get("Resources", {}).get("CPU"), pid=int(where["pid"]),
            ))
            clock = self._measure_clock(ray, actor)
            self._clocks.append(clock)
            problem = offset_problem(f"w{i} on node {self._placements[-1].node}", clock)
            if problem is not None:
                problems.append(problem)
        if problems:
            raise PreflightError("load worker clocks", "; ".join(problems))

    @staticmethod
    def _measure_clock(ray: ModuleType, actor: Any) -> ClockSample:
        samples = []
        for _ in range(CLOCK_PROBES):
            sent = time.time()
            worker_time = ray.get(actor.clock.remote(), timeout=START_TIMEOUT_S)
            samples.append(clock_sample(sent, worker_time, time.time()))
        return best_sample(samples)

    async def start(self, shares: Sequence[WorkerShare]) -> list[WorkerChannel]:
        if not self._placements:
            await self.place(len(shares))
        if len(shares) > len(self._actors):
            raise LoadError(f"{len(shares)} shares for {len(self._actors)} Ray load workers")
        ray = self._ray
        assert ray is not None  # Invariant: placed
        for extra in self._actors[len(shares):]:  # fewer streams than workers: idle ones go
            ray.kill(extra, no_restart=True)
        self._actors = self._actors[: len(shares)]
        shifted = [
            replace(share, start_wall=share.start_wall + clock.offset_s,
                    heartbeat_timeout_s=min(share.heartbeat_timeout_s, HEARTBEAT_TIMEOUT_S))
            for share, clock in zip(shares, self._clocks, strict=False)
        ]
        refs = [a.start.remote(s) for a, s in zip(self._actors, shifted, strict=True)]
        try:
            started = await anyio.to_thread.run_sync(lambda: ray.get(refs, timeout=START_TIMEOUT_S))
        except (ray.exceptions.GetTimeoutError, ray.exceptions.RayActorError) as exc:
            raise LoadError(f"the Ray load workers did not start: {_one_line(exc)}") from None
        pids = [pid for pid, _ in started]
        for share, placement, (_, nice) in zip(shares, self._placements, started, strict=False):
            if nice > 0:
                log.warning("load worker %s on node %s runs at nice %d (Ray's worker priority; the "
                            "node does not let it go back to 0): expect about a quarter less load "
                            "per core; give the Ray pods CAP_SYS_NICE (docs/ray.md)",
                            share.worker_id, placement.node, nice)
        self._channels = [  # each placement now names the worker process that drives the load
            RayChannel(ray, actor, share, replace(placement, pid=int(pid)), clock)
            for actor, share, placement, clock, pid in zip(
                self._actors, shares, self._placements, self._clocks, pids, strict=False)
        ]
        return list(self._channels)

    async def close(self) -> None:
        ray = self._ray
        if ray is None:
            return
        for actor in self._actors:
            with contextlib.suppress(Exception):
                ray.kill(actor, no_restart=True)
        self._actors = []
        if self._group is not None:
            from ray.util.placement_group import remove_placement_group

            with contextlib.suppress(Exception):
                remove_placement_group(self._group)
            self._group = None
        if self._connected:
            self._connected = False
            await anyio.to_thread.run_sync(ray.shutdown)
