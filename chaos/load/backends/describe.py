"""Where the workers of a run would go, in lines for `chaos plan` (nothing is reserved: a
Ray cluster is only asked which nodes could take them)."""

from __future__ import annotations

import os
import socket

from chaos.errors import ChaosError
from chaos.load.backends.base import BackendChoice


def describe_workers(choice: BackendChoice, workers: int | None) -> list[str]:
    """One line per worker (Ray) or one for all (local); `workers` is the drill's count
    (None: automatic, one per ~2,500 streams)."""
    count = "automatic (one per ~2,500 streams)" if workers is None else str(workers)
    if choice.kind == "local":
        return [f"local: {count} worker process(es) on {socket.gethostname()} "
                f"({os.cpu_count() or 1} CPUs), one core each"]
    if choice.address is None:
        return [f"ray: a local Ray started for the run on {socket.gethostname()}; {count} workers"]
    from chaos.load.backends.ray_backend import (
        connect,
        eligible_nodes,
        node_name,
        require_ray,
        worker_count,
    )

    try:
        ray = require_ray()
        connected = connect(ray, choice.address)
    except ChaosError as exc:
        return [f"ray at {choice.address}: {exc}"]
    try:
        nodes = ray.nodes()
    finally:
        if connected:
            ray.shutdown()
    eligible = eligible_nodes(nodes, choice)
    wanted = {"CPU": choice.cpus_per_worker, **choice.resources}
    if not eligible:
        return [f"ray at {choice.address}: no alive node of {len(nodes)} has {wanted}"
                + (f" and labels {dict(choice.labels)}" if choice.labels else "")]
    n = worker_count(choice, len(eligible), workers or len(eligible))
    lines = [f"ray at {choice.address}: {n} workers, {choice.strategy} over {len(eligible)} "
             f"eligible node(s), each reserving {wanted}"]
    for i in range(n):  # SPREAD places round-robin while the nodes have room
        node = eligible[i % len(eligible)]
        cpus = node.get("Resources", {}).get("CPU")
        lines.append(f"w{i}: node {node_name(node)} ({node.get('NodeManagerAddress', '?')}), "
                     f"{choice.cpus_per_worker:g} of {cpus:g} CPU")
    return lines
