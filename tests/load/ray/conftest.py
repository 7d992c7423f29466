"""A real two-node Ray cluster on this host for the session: `ray start --head` and
`ray start --address` as separate processes, each with one CPU, a small object store and its
own resource (node_a, node_b) besides the shared `chaos_load`, so placement is observable.
Torn down with `ray stop`. Skips (saying why) only where Ray cannot be imported."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.servers import free_port

NODES = ("node_a", "node_b")
LOAD_RESOURCE = "chaos_load"
OBJECT_STORE_BYTES = 100_000_000
RAY_MISSING = "Ray is not installed: pip install 'chaos-drills[ray]' (scripts/setup.sh does)"


@dataclass(frozen=True)
class RayCluster:
    address: str  # host:port of the head's GCS

    def load_section(self, **extra: object) -> dict[str, object]:
        """The environment's `load` section: one worker on each node."""
        return {"backend": "ray", "address": self.address, "workers_per_node": 1,
                "resources": {LOAD_RESOURCE: 1}, "strategy": "STRICT_SPREAD", **extra}


def ray_command() -> list[str]:
    script = Path(sys.executable).with_name("ray")
    if script.exists():
        return [str(script)]
    found = shutil.which("ray")
    if found is None:
        pytest.fail("Ray is importable but its `ray` command is not on PATH", pytrace=False)
    return [found]


def ray_stop() -> None:
    subprocess.run([*ray_command(), "stop", "--force"], capture_output=True, timeout=120, check=False)


@pytest.fixture(scope="session")
def ray_cluster() -> Iterator[RayCluster]:
    if importlib.util.find_spec("ray") is None:
        pytest.skip(RAY_MISSING)
    ray = ray_command()
    port = free_port()
    # Ray 2.60 turns token authentication on for a head when ~/.ray/auth_token exists (a
    # local `ray.init()` writes one) while joining nodes do not send it: the test cluster has
    # none, on loopback only.
    env = os.environ | {"RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "disabled"}
    common = ["--num-cpus", "1", "--object-store-memory", str(OBJECT_STORE_BYTES),
              "--node-ip-address", "127.0.0.1", "--disable-usage-stats"]
    address = f"127.0.0.1:{port}"
    try:
        for i, name in enumerate(NODES):
            where = ["--head", "--port", str(port), "--include-dashboard=false"] if i == 0 else ["--address", address]
            done = subprocess.run(
                [*ray, "start", *where, *common, "--resources", json.dumps({name: 1, LOAD_RESOURCE: 1})],
                capture_output=True, text=True, timeout=180, env=env, check=False,
            )
            if done.returncode != 0:
                pytest.fail(f"ray start ({name}) failed: {done.stderr[-2000:]}", pytrace=False)
        yield RayCluster(address)
    finally:
        ray_stop()
