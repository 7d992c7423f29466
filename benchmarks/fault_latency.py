"""Per primitive: delay from the scheduled instant to the fault being effective (applied and
verified from the component's own state, journal fsync included), and the revert time.

Targets (issue 4): Toxiproxy p99 < 20 ms, Docker pause p99 < 500 ms on this machine.
Run by hand from the repository root:  python benchmarks/fault_latency.py [--runs 50] [--no-docker]
The machine is shared and its CPU contended: figures are noisy, compare ratios across runs.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio
import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from chaos.faults import FaultSession, Primitive, ProxyConfig, Targets, ToxiproxyClient

TARGET_MS = {"toxiproxy.disable": 20.0, "toxiproxy.toxic": 20.0, "docker.pause": 500.0}


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


async def measure(targets: Targets, run_dir: Path, make: Callable[[int], Primitive],
                  runs: int) -> tuple[list[float], list[float]]:
    apply_ms: list[float] = []
    revert_ms: list[float] = []
    async with FaultSession(None, targets=targets, run_dir=run_dir, run_id=run_dir.name) as s:
        for i in range(runs):
            scheduled = time.time()  # wall clock, like FaultRecord.applied_at
            record = await s.apply_primitives(f"f{i}", [make(i)])
            assert record.applied_at is not None
            apply_ms.append((record.applied_at - scheduled) * 1000)
            start = time.time()
            record = await s.revert(f"f{i}")
            assert record.reverted_at is not None
            revert_ms.append((record.reverted_at - start) * 1000)
    return apply_ms, revert_ms


def report(name: str, apply_ms: list[float], revert_ms: list[float]) -> None:
    p99 = percentile(apply_ms, 99)
    target = TARGET_MS[name]
    print(f"{name:18s} n={len(apply_ms):3d}  effective p50 {statistics.median(apply_ms):7.1f} ms"
          f"  p99 {p99:7.1f} ms  max {max(apply_ms):7.1f} ms"
          f"  (target p99 < {target:g} ms, ratio {p99 / target:.2f})"
          f"  | revert p50 {statistics.median(revert_ms):7.1f} ms  p99 {percentile(revert_ms, 99):7.1f} ms")


def start_toxiproxy() -> tuple[subprocess.Popen[bytes], str]:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    binary = shutil.which("toxiproxy-server")
    if binary is None:
        sys.exit("toxiproxy-server is not on PATH")
    proc = subprocess.Popen([binary, "-host", "127.0.0.1", "-port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    api = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{api}/version", timeout=0.5).status_code == 200:
                return proc, api
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    proc.kill()
    sys.exit("toxiproxy-server did not start")


def main() -> None:
    parser = argparse.ArgumentParser()
    # 200: with 50 the p99 is the single slowest run (the first, which opens connections)
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--no-docker", action="store_true")
    args = parser.parse_args()
    proc, api = start_toxiproxy()
    tmp = Path(tempfile.mkdtemp(prefix="fault-latency-"))
    try:
        async def setup() -> None:
            async with ToxiproxyClient(api) as tp:
                await tp.create_proxy(ProxyConfig("bench", "127.0.0.1:0", "127.0.0.1:9"))

        anyio.run(setup)
        targets = Targets(toxiproxy_api=api)
        print(f"fault latency, {args.runs} runs per primitive (shared, contended CPU: noisy)")
        a, r = anyio.run(measure, targets, tmp / "disable",
                         lambda i: Primitive("toxiproxy.disable", "bench"), args.runs)
        report("toxiproxy.disable", a, r)
        a, r = anyio.run(measure, targets, tmp / "toxic", lambda i: Primitive(
            "toxiproxy.toxic", "bench", {"name": f"chaos_bench_{i}", "type": "latency",
                                         "stream": "downstream", "toxicity": 1.0,
                                         "attributes": {"latency": 100, "jitter": 0}}), args.runs)
        report("toxiproxy.toxic", a, r)
        if not args.no_docker:
            import docker

            from tests.faults.dockerworld import docker_world

            try:
                client: Any = docker.from_env()
            except docker.errors.DockerException as exc:
                print(f"docker.pause: skipped, no Docker engine answers ({exc}); "
                      "start dockerd (bash scripts/setup.sh) or pass --no-docker")
                return
            with docker_world(client) as world:
                a, r = anyio.run(measure, Targets(runtime="docker"), tmp / "pause",
                                 lambda i: Primitive("docker.pause", world.server),
                                 max(10, args.runs // 2))
                report("docker.pause", a, r)
            client.close()
    finally:
        proc.terminate()
        proc.wait(timeout=5)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
