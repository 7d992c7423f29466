"""Per-request CPU of one load worker, run in this process (no controller), with an optional
cProfile of its hot path.

    python benchmarks/worker_profile.py [--seconds 5] [--connections 64] [--protocol openai|testbed]
                                        [--query QUERY] [--server auto|go|python] [--profile] [--top 25]
                                        [--repeat 1] [--fast-path compiled,python,none] [--pin]
                                        [--reader wire,httptools]

--protocol openai (the default, as in benchmarks/load_driver.py) reads `events=5&format=openai`
through `OpenAIProfile(model="bench")`; testbed reads `events=5` (the testbed dialect, with
[DONE]) through `CustomProfile()`. --query replaces the query (keep format=openai with the
openai profile). A run whose requests are not all complete streams says so loudly.
--fast-path picks how streams are read: compiled (chaos/protocols/_scan.c), python (the
OpenAI twin in Python; the testbed dialect then reads event by event) or none (one event at
a time); a comma list alternates them within each repeat, side by side in one run. --reader
picks what reads responses: wire (llhttp from C, chaos/load/_wire.c) or httptools; a comma
list alternates the same way (with --fast-path, every pair). --pin
puts the server on a core of its own (SSEServer.pin).

CPU is this process's rusage (user + sys) over the worker's run, so it is robust to other
load on the machine; wall-clock rates are not. The server runs in its own process.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import resource
import sys
import time
from collections import Counter
from pathlib import Path

import uvloop

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sse_servers import start_server  # noqa: E402  # benchmarks/ is the script's directory

from chaos.load import LoadConfig, StopSignal, WorkerShare, http, run  # noqa: E402
from chaos.protocols import CustomProfile, OpenAIProfile, StreamState, profiles  # noqa: E402
from chaos.recording import LoadWindow  # noqa: E402


def cpu_s() -> tuple[float, float]:
    """(user, system) CPU seconds of this process so far."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime, usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--protocol", choices=("openai", "testbed"), default="openai")
    parser.add_argument("--query", default=None, help="default: events=5&format=openai (openai), "
                        "events=5 (testbed)")
    parser.add_argument("--ramp-up", type=float, default=0.0)
    parser.add_argument("--server", default="auto", choices=("auto", "go", "python"))
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--pin", action="store_true",
                        help="the server on a core of its own, the worker on the others (SSEServer.pin)")
    parser.add_argument("--fast-path", default="compiled",
                        help="openai: compiled, python or none (one event at a time); a comma "
                             "list alternates them in each repeat, side by side")
    parser.add_argument("--reader", default="wire",
                        help="wire (chaos/load/_wire.c) or httptools; a comma list alternates them")
    args = parser.parse_args()
    openai = args.protocol == "openai"
    protocol = OpenAIProfile(model="bench") if openai else CustomProfile()
    query = args.query or ("events=5&format=openai" if openai else "events=5")
    path = "/v1/chat/completions" if openai else "/api/chat"
    server, line = start_server(args.server)
    print(line)
    print(server.pin(args.pin))
    print(f"{args.protocol} profile, {path}?{query}")
    try:
        readers = {cls.__name__.removesuffix("Connection").lower(): cls for cls in http.READERS}
        pairs = [(path, reader) for path in args.fast_path.split(",") for reader in args.reader.split(",")]
        unknown = {reader for _, reader in pairs} - readers.keys()
        if unknown:
            raise SystemExit(f"--reader: {', '.join(sorted(unknown))} is not built here (have: {', '.join(readers)})")
        scans = {"compiled": profiles._openai_scan, "python": profiles._openai_scan_py, "none": None}
        custom_stream = CustomProfile.stream
        for run_no in range(args.repeat * len(pairs)):
            path_name, reader_name = pairs[run_no % len(pairs)]
            http.READERS = (readers[reader_name],)  # what open_connection uses
            profiles._openai_scan = scans[path_name]  # what OpenAIProfile.stream() hands out
            # The testbed dialect: compiled (`_scan.custom`) or, for none and python, event by event.
            CustomProfile.stream = (custom_stream if path_name == "compiled"  # type: ignore[method-assign]
                                    else lambda self: StreamState(self.classify))
            print(f"[fast path: {path_name}, reader: {reader_name}]", end=" ")
            config = LoadConfig(url=server.url(query, path), streams=args.connections, protocol=protocol,
                                ramp_up_s=args.ramp_up, hold_s=args.seconds, graceful_s=2.0,
                                workers=1)
            share = WorkerShare(config=config, worker_id="w0", worker_index=0, workers=1,
                                stream_first=0, stream_count=config.streams, rate_per_s=0.0,
                                phase=0.0, max_in_flight=1, start_wall=time.time() + 0.2,
                                heartbeat_timeout_s=3600.0)  # no controller beats here
            windows: list[LoadWindow] = []
            profiler = cProfile.Profile() if args.profile else None
            before, wall = cpu_s(), time.monotonic()
            if profiler is not None:
                profiler.enable()
            uvloop.run(run(share, windows.append, StopSignal()))
            if profiler is not None:
                profiler.disable()
            after, wall = cpu_s(), time.monotonic() - wall
            user, system = after[0] - before[0], after[1] - before[1]
            used = user + system
            ok = sum(w.counts["2xx"] for w in windows)
            events = sum(w.events for w in windows)
            other = sum(sum(w.counts.values()) for w in windows) - ok
            print(f"{ok} 2xx ({other} other) in {wall:.1f} s wall, {used:.2f} CPU-s: "
                  f"{ok / used:,.0f} req/cpu-s, {1e6 * used / max(ok, 1):.1f} us CPU/request "
                  f"({1e6 * user / max(ok, 1):.1f} user + {1e6 * system / max(ok, 1):.1f} sys); "
                  f"{events} events, {1e6 * used / max(events, 1):.1f} us CPU/event"
                  + (" (profiled: slower)" if profiler is not None else ""))
            if ok == 0 or other:
                print(f"!!! WARNING: {other} of {ok + other} requests were not complete streams:"
                      f" {sum((Counter(w.counts) for w in windows), Counter())} !!!")
            print("windows (lag p99 ms / CPU %): " + ", ".join(
                f"{w.loop_lag_p99_ms:.1f}/{w.cpu_percent:.0f}" for w in windows))
            if profiler is not None:
                pstats.Stats(profiler).sort_stats("tottime").print_stats(args.top)
    finally:
        server.stop()


if __name__ == "__main__":
    main()
