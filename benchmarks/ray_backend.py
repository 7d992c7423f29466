"""Ray backend benchmark: the same load through the Ray backend and the local backend, side by
side in one run, and the coordinator's merge cost per window at Tier X.

    python benchmarks/ray_backend.py [--seconds 8] [--connections 64] [--streams 1000]
                                     [--rounds 2] [--server auto|go|python] [--stages short,long,merge]

short: closed model, `--connections` keep-alive streams of short OpenAI responses (5 chunks,
`events=5&format=openai`), one worker: complete requests per worker CPU-second.
long: `--streams` long streams (first event after 200 ms, 50 events 100 ms apart), one
worker: streams per worker core (streams / the worker's mean CPU over the hold) and the loop
lag p99 that came with it.
Each stage runs local, then Ray, `--rounds` times, alternating (medians are compared): the
ratio Ray / local is the figure (goal >= 0.9). A worker's CPU is its own measurement over its
windows (`cpu_percent`, `time.process_time` of its process); a Ray worker's adds its actor's
process (the relay of windows and heartbeats, Ray's own threads included), read from /proc.
Ray runs as a local one-node cluster started by this script (num_cpus 1 per worker, object
store 100 MB) on the same host as the local backend, so the two compare like with like.

merge: 20,000 long streams over 8 simulated workers (2,500 each; 250 streams end per worker
per second, 12,250 inter-token gaps): the coordinator's work per window-second of all 8
workers, on one core: unpickling what Ray delivers, shifting onto coordinator time,
dedup/tally (the controller's merge), the evidence line (`Recorder.add_window` with a real
bundle), and, separately, the live view's rolling figures (goal < 50 ms per window).
"""

from __future__ import annotations

import argparse
import logging
import os
import pickle
import random
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import anyio
from hdrh.histogram import HdrHistogram

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sse_servers import SSEServer, start_server  # noqa: E402  # benchmarks/ is the script's directory

from chaos.load import LoadConfig, LoadController  # noqa: E402  # after the path set-up
from chaos.load.backends import BackendChoice, Placement  # noqa: E402
from chaos.load.backends.clock import ClockSample  # noqa: E402
from chaos.load.backends.ray_backend import RayChannel, require_ray  # noqa: E402
from chaos.load.controller import _Worker, split_shares  # noqa: E402
from chaos.protocols import OpenAIProfile  # noqa: E402
from chaos.recording import (  # noqa: E402
    HIST_HIGHEST_US,
    HIST_LOWEST_US,
    HIST_SIGNIFICANT_DIGITS,
    LoadWindow,
)
from chaos.report.bundle import BundleWriter  # noqa: E402
from chaos.run.recorder import Recorder  # noqa: E402

OPENAI = OpenAIProfile(model="bench")
PATH = "/v1/chat/completions"
SHORT_QUERY = "events=5&format=openai"
LONG_QUERY = "first_ms=200&events=50&interval_ms=100&format=openai"
RAY = BackendChoice(kind="ray", workers=1)
LOCAL = BackendChoice(kind="local")


@dataclass(frozen=True)
class Result:
    backend: str
    complete: int
    cpu_s: float
    mean_cores: float
    lag_p99_ms: float

    @property
    def per_cpu_s(self) -> float:
        return self.complete / self.cpu_s if self.cpu_s > 0 else 0.0


def process_cpu_s(pid: int) -> float:
    """utime + stime of a process on this host, from /proc (0.0 once it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def drive(server: SSEServer, choice: BackendChoice, query: str, streams: int, seconds: float,
          ramp_s: float = 0.0) -> Result:
    """One worker's hold-period figures. A Ray worker's CPU is its worker process's own (from
    its windows) plus its actor's (the relay), read from /proc as each window arrives."""
    config = LoadConfig(url=server.url(query, PATH), streams=streams, hold_s=seconds,
                        ramp_up_s=ramp_s, graceful_s=6.0, workers=1, protocol=OPENAI,
                        max_lag_p99_ms=1000.0)
    windows: list[LoadWindow] = []
    actor_cpu: list[tuple[float, float]] = []  # (window end, the actor's CPU seconds so far)
    actor_pids: list[int] = []

    def on_window(w: LoadWindow) -> None:
        windows.append(w)
        actor_cpu.append((w.end, sum(process_cpu_s(pid) for pid in actor_pids)))

    controller = LoadController(config, on_window, startup_s=1.0, backend=choice)

    async def main() -> None:
        places = await controller.prepare()
        if choice.kind == "ray":
            actor_pids.extend(p.pid for p in places if p.pid is not None)  # before start: the actors
        await controller.run()

    anyio.run(main)
    hold_start = windows[0].start + ramp_s + 1.0
    hold_end = windows[0].start + ramp_s + seconds
    hold = [w for w in windows if w.start >= hold_start and w.end <= hold_end]
    cpu_s = sum(w.cpu_percent / 100.0 * (w.end - w.start) for w in hold)
    relay = [c for t, c in actor_cpu if hold_start <= t <= hold_end]
    relay_s = relay[-1] - relay[0] if len(relay) > 1 else 0.0
    cpu_s += relay_s
    span = sum(w.end - w.start for w in hold)
    other = {k: v for w in windows for k, v in w.counts.items() if k != "2xx" and v}
    if other:
        print(f"  WARNING {choice.kind}: requests that did not complete: {other}")
    if choice.kind == "ray":
        print(f"  (ray actor relay: {relay_s:.2f} CPU-s of the {cpu_s:.2f})")
    return Result(choice.kind, sum(w.counts.get("2xx", 0) for w in hold), cpu_s,
                  cpu_s / span if span else 0.0, max((w.loop_lag_p99_ms for w in hold), default=0.0))


def side_by_side(label: str, rounds: int, run: dict[str, object]) -> None:
    results: dict[str, list[Result]] = {"local": [], "ray": []}
    for i in range(rounds):
        for choice in (LOCAL, RAY):
            r = drive(choice=choice, **run)  # type: ignore[arg-type]  # keyword set per stage
            results[choice.kind].append(r)
            print(f"  round {i + 1} {choice.kind:5}: {r.complete:,} complete, {r.cpu_s:.2f} CPU-s, "
                  f"{r.per_cpu_s:,.0f} req/CPU-s, mean {r.mean_cores:.2f} cores, lag p99 {r.lag_p99_ms:.1f} ms")
    med = {k: statistics.median(x.per_cpu_s for x in v) for k, v in results.items()}
    cores = {k: statistics.median(x.mean_cores for x in v) for k, v in results.items()}
    streams = int(run["streams"])  # type: ignore[call-overload]  # an int by construction
    print(f"{label}: requests per CPU-second local {med['local']:,.0f}, ray {med['ray']:,.0f}: "
          f"ratio ray/local {med['ray'] / med['local']:.2f}")
    if label == "long":
        per_core = {k: streams / c if c else 0.0 for k, c in cores.items()}
        print(f"long: streams per worker core local {per_core['local']:,.0f}, ray {per_core['ray']:,.0f} "
              f"(at {streams} streams: {cores['local']:.2f} vs {cores['ray']:.2f} cores): ratio "
              f"ray/local {per_core['ray'] / per_core['local']:.2f}")


# -- the merge at Tier X -----------------------------------------------------------------
def encoded(values: list[int]) -> str:
    h = HdrHistogram(HIST_LOWEST_US, HIST_HIGHEST_US, HIST_SIGNIFICANT_DIGITS)
    for v in values:
        h.record_value(v)
    return h.encode().decode("ascii")


def simulated_window(worker: int, seq: int, start: float, rng: random.Random) -> LoadWindow:
    """One second of a worker holding 2,500 long streams of ~5 s: 500 end in it."""
    ended = 500
    ft = [rng.randint(150_000, 400_000) for _ in range(ended)]
    done = [f + rng.randint(4_500_000, 5_500_000) for f in ft]
    gaps = [rng.randint(80_000, 140_000) for _ in range(ended * 49)]
    return LoadWindow(
        run_id="bench", worker_id=f"w{worker}", incarnation=0, seq=seq, start=start,
        end=start + 1.0, started=ended, counts={"2xx": ended}, error_codes={}, transport={},
        regions={"us-east": ended}, first_token_hist=encoded(ft), completion_hist=encoded(done),
        ttfb_hist=encoded([f - 1000 for f in ft]), itl_hist=encoded(gaps),
        tpot_hist=encoded([100_000] * ended), in_flight=2500, events=ended * 52,
        bytes_received=ended * 9000, output_tokens=ended * 50, token_sources={"usage": ended},
        first_kinds={"content": ended}, cpu_percent=55.0, loop_lag_p99_ms=3.0,
    )


def merge_stage(seconds: int, workers: int = 8) -> None:
    rng = random.Random(7)
    start = time.time()
    config = LoadConfig(url="http://127.0.0.1:9/x", streams=20_000, hold_s=float(seconds), workers=workers)
    shares = split_shares(config, start, 10.0)
    offset = 0.0042  # the workers' clocks are a few ms off: windows are shifted like a real run's
    channels = [RayChannel(ray=sys, actor=None, share=s, placement=Placement(f"n{i}", "10.0.0.1"),
                           clock=ClockSample(start, offset, 0.001)) for i, s in enumerate(shares)]
    print(f"\nmerge: building {workers} x {seconds} simulated windows (2,500 long streams each)...")
    # What Ray delivers per exchange: the pickled reply (clock, first index, messages).
    replies = [[pickle.dumps((time.time(), seq, [("window", simulated_window(i, seq, start + offset + seq, rng))]),
                             protocol=5) for i in range(workers)] for seq in range(seconds)]
    with tempfile.TemporaryDirectory() as tmp:
        bundle = BundleWriter.create(Path(tmp), "bench", start, run_meta={"run_id": "bench"})
        recorder = Recorder("bench", start, bundle)
        controller = LoadController(config, recorder.add_window)
        ws = [_Worker(ch) for ch in channels]  # type: ignore[arg-type]  # RayChannel is a WorkerChannel
        merge_ms, live_ms = [], []
        for seq in range(seconds):
            t0 = time.process_time()
            for worker, channel, reply in zip(ws, channels, replies[seq], strict=True):
                _, _, messages = pickle.loads(reply)
                for message in messages:
                    controller._handle(worker, channel._to_coordinator(message))
            t1 = time.process_time()
            recorder.rolling()  # the live view's figures, once a second
            t2 = time.process_time()
            merge_ms.append((t1 - t0) * 1000.0)
            live_ms.append((t2 - t1) * 1000.0)
        bundle.close()
    merge_ms.sort()
    live_ms.sort()
    p99 = merge_ms[min(len(merge_ms) - 1, int(0.99 * len(merge_ms)))]
    print(f"merge: {workers} workers x 2,500 streams = {workers * 2500:,} streams: coordinator CPU per "
          f"window-second median {statistics.median(merge_ms):.1f} ms, p99 {p99:.1f} ms, max "
          f"{merge_ms[-1]:.1f} ms (unpickle + shift + tally + evidence line); live view rolling "
          f"figures median {statistics.median(live_ms):.1f} ms (goal: < 50 ms per window)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--streams", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--server", default="auto")
    parser.add_argument("--stages", default="short,long,merge")
    args = parser.parse_args()
    stages = set(args.stages.split(","))
    if stages & {"short", "long"}:
        ray = require_ray()
        os.environ.setdefault("RAY_AUTH_MODE", "disabled")  # a throwaway loopback cluster
        ray.init(address="local", num_cpus=1, include_dashboard=False, log_to_driver=False,
                 logging_level=logging.WARNING, object_store_memory=100_000_000)
        print(f"Ray {ray.__version__}: a local one-node cluster (1 CPU)")
        server, line = start_server(args.server)
        print(line)
        try:
            if "short" in stages:
                print(f"\nshort: {args.connections} keep-alive streams, {SHORT_QUERY}, {args.seconds:g} s")
                side_by_side("short", args.rounds, {"server": server, "query": SHORT_QUERY,
                                                    "streams": args.connections, "seconds": args.seconds})
            if "long" in stages:
                print(f"\nlong: {args.streams} streams, {LONG_QUERY}, {args.seconds:g} s after a 2 s ramp")
                side_by_side("long", args.rounds, {"server": server, "query": LONG_QUERY,
                                                   "streams": args.streams, "seconds": args.seconds,
                                                   "ramp_s": 2.0})
        finally:
            server.stop()
            ray.shutdown()
    if "merge" in stages:
        merge_stage(60)


if __name__ == "__main__":
    main()
