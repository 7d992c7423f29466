"""Load-driver benchmark: requests per client CPU-second against wrk, hey, Locust and k6, and
the long streams one worker core holds with loop-lag p99 <= 10 ms.

    python benchmarks/load_driver.py [--seconds 5] [--connections 64] [--streams 1000,2500,5000]

Every tool hits the same local SSE test server in its own process: the Go one
(benchmarks/sse_server_go, built with `go build` on first use) when `go` is on PATH, else
the Python one (tests/load/sse_server.py); the first line says which. Short responses
have 5 events, one flushed chunk each. Client CPU is measured from the tool's process
rusage (user + sys), so the figures compare clients, not the server. Missing tools are
named and skipped. On a shared machine the figures are noisy: run it when the machine is
quiet. The long-stream stage also reports the server's own first-event lateness, so the
client's error can be told apart from the server's.
Targets (issue 10): >= hey, >= 3x k6, >= 5x Locust, within 3x of wrk; 5,000 streams of
10 events/s per worker core with first-event error p99 <= 5 ms.
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import anyio
from hdrh.histogram import HdrHistogram

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sse_servers import SSEServer, start_server  # noqa: E402  # benchmarks/ is the script's directory

from chaos.load import LoadConfig, LoadController  # noqa: E402  # after the path set-up
from chaos.recording import LoadWindow  # noqa: E402

SHORT_QUERY = "events=5"
BODY = '{"message": "hi"}'


@dataclass(frozen=True)
class Figure:
    tool: str
    requests: int
    cpu_s: float

    @property
    def per_cpu_s(self) -> float:
        return self.requests / self.cpu_s if self.cpu_s > 0 else 0.0


def children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def measured(tool: str, run: Callable[[], int]) -> Figure:
    before = children_cpu_s()
    requests = run()
    return Figure(tool, requests, children_cpu_s() - before)


def run_driver(url: str, seconds: float, connections: int) -> Figure:
    """The driver's CPU is its worker's own measurement over its windows (the interpreter's
    start-up, ~0.3 CPU-s of imports, is left out as a native tool has none)."""
    config = LoadConfig(url=url, streams=connections, hold_s=seconds, graceful_s=2.0, workers=1)
    windows: list[LoadWindow] = []
    summary = anyio.run(LoadController(config, windows.append, startup_s=1.0).run)
    cpu_s = sum(w.cpu_percent / 100.0 * (w.end - w.start) for w in windows)
    return Figure("chaos driver", summary.counts["2xx"], cpu_s)


def run_wrk(url: str, seconds: float, connections: int) -> int:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(f'wrk.method = "POST"\nwrk.body = \'{BODY}\'\nwrk.headers["Content-Type"] = "application/json"\n')
    out = subprocess.run(["wrk", "-t1", f"-c{connections}", f"-d{int(seconds)}s", "-s", f.name, url],
                         capture_output=True, text=True, check=True).stdout
    os.unlink(f.name)
    match = re.search(r"(\d+) requests in", out)
    return int(match.group(1)) if match else 0


def run_hey(binary: str, url: str, seconds: float, connections: int) -> int:
    out = subprocess.run([binary, "-z", f"{int(seconds)}s", "-c", str(connections), "-m", "POST",
                          "-d", BODY, "-T", "application/json", url],
                         capture_output=True, text=True, check=True).stdout
    match = re.search(r"\[200\]\s+(\d+) responses", out)
    return int(match.group(1)) if match else 0


def run_locust(url: str, seconds: float, connections: int) -> int:
    host, _, path = url.partition("/api/")
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as f:
        f.write(
            "from locust import task\nfrom locust.contrib.fasthttp import FastHttpUser\n"
            "class U(FastHttpUser):\n    @task\n    def chat(self):\n"
            f"        self.client.post('/api/{path}', data='{BODY}', headers={{'Content-Type': 'application/json'}})\n"
        )
    out = subprocess.run(["locust", "-f", f.name, "--headless", "-u", str(connections), "-r", str(connections),
                          "-t", f"{int(seconds)}s", "--host", host, "--only-summary"],
                         capture_output=True, text=True).stderr
    os.unlink(f.name)
    match = re.search(r"Aggregated\s+(\d+)", out)
    return int(match.group(1)) if match else 0


def run_k6(url: str, seconds: float, connections: int) -> int:
    with tempfile.NamedTemporaryFile("w", suffix=".js", delete=False) as f:
        f.write("import http from 'k6/http';\nexport default function () {\n"
                f"  http.post('{url}', '{BODY}', {{headers: {{'Content-Type': 'application/json'}}}});\n}}\n")
    out = subprocess.run(["k6", "run", "--vus", str(connections), "--duration", f"{int(seconds)}s", f.name],
                         capture_output=True, text=True).stdout
    os.unlink(f.name)
    match = re.search(r"http_reqs\.*:\s+(\d+)", out)
    return int(match.group(1)) if match else 0


@dataclass(frozen=True)
class StreamFigures:
    lag_p99_ms: float  # the worst steady window's loop-lag p99
    error_p99_ms: float  # first-event latency p99 over the steady windows, minus 200 ms
    cpu_percent: float  # the worst steady window's CPU, % of one core
    server_late_p99_ms: float  # how late the server wrote first events (p99), same period
    server_late_max_ms: float


LONG_QUERY = "first_ms=200&events=50&interval_ms=100"
LONG_STREAM_S = 0.2 + 49 * 0.1  # one long stream's duration


def long_streams(server: SSEServer, streams: int, seconds: float) -> StreamFigures:
    """One worker holding `streams` streams of 50 events 100 ms apart, the first after
    200 ms, for `seconds` of steady state.

    A request is recorded in the window where it ends, one stream (5.1 s) after its first
    event: the steady windows are those after the ramp-up, +1 s, + one stream, so that no
    request measured there started during the ramp-up (connection set-up, heavier work);
    the hold is extended by as much. The server's lateness is counted over the same span."""
    url = server.url(LONG_QUERY)
    ramp = max(2.0, streams / 1000)
    startup_s = 1.5
    settle_s = ramp + 1.0 + LONG_STREAM_S
    config = LoadConfig(url=url, streams=streams, ramp_up_s=ramp, hold_s=seconds + 1.0 + LONG_STREAM_S,
                        graceful_s=1.0, workers=1)
    windows: list[LoadWindow] = []

    async def run() -> None:
        async def reset_server_stats_at_steady_state() -> None:
            await anyio.sleep(startup_s + ramp + 1.0)  # first events of the measured requests
            await anyio.to_thread.run_sync(lambda: server.stats(reset=True))

        async with anyio.create_task_group() as tg:
            tg.start_soon(reset_server_stats_at_steady_state)
            await LoadController(config, windows.append, startup_s=startup_s).run()

    anyio.run(run)
    late = server.stats()
    steady = [w for w in windows if w.start >= windows[0].start + settle_s and w.end - w.start >= 0.99]
    hist = HdrHistogram(1, 600_000_000, 3)
    for w in steady:
        hist.add(HdrHistogram.decode(w.first_token_hist))
    if not steady or hist.get_total_count() == 0:
        nan = float("nan")
        return StreamFigures(nan, nan, nan, nan, nan)
    return StreamFigures(
        lag_p99_ms=max(w.loop_lag_p99_ms for w in steady),
        error_p99_ms=hist.get_value_at_percentile(99) / 1000 - 200.0,
        cpu_percent=max(w.cpu_percent for w in steady),
        server_late_p99_ms=float(late["first_event_late_p99_ms"]),
        server_late_max_ms=float(late["first_event_late_max_ms"]),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--streams", default="1000,2500,5000")
    parser.add_argument("--server", choices=("auto", "go", "python"), default="auto",
                        help="the SSE test server (auto: Go when `go` is on PATH)")
    parser.add_argument("--stages", default="short,long", help="short, long or both")
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} (shared: figures are noisy)")
    server, line = start_server(args.server)
    print(line)
    url = server.url(SHORT_QUERY)
    try:
        if "short" in args.stages:
            short_stage(url, args.seconds, args.connections)
        if "long" in args.stages:
            long_stage(server, args.streams, args.seconds)
    finally:
        server.stop()


def short_stage(url: str, seconds: float, connections: int) -> None:
    figures = [run_driver(url, seconds, connections)]
    tools: list[tuple[str, str | None, Callable[[], int]]] = [
        ("wrk", shutil.which("wrk"), lambda: run_wrk(url, seconds, connections)),
        ("hey", shutil.which("hey") or _go_bin("hey"), lambda: run_hey(
            shutil.which("hey") or _go_bin("hey") or "hey", url, seconds, connections)),
        ("locust", shutil.which("locust"), lambda: run_locust(url, seconds, connections)),
        ("k6", shutil.which("k6"), lambda: run_k6(url, seconds, connections)),
    ]
    for name, binary, run in tools:
        if binary is None:
            print(f"{name}: not installed, skipped")
            continue
        figures.append(measured(name, run))
    ours = figures[0].per_cpu_s
    print(f"\nshort SSE responses (5 events), {connections} connections, {seconds:.0f} s each")
    print(f"{'tool':<14}{'requests':>10}{'cpu s':>8}{'req/cpu-s':>12}{'driver/tool':>13}")
    for fig in figures:
        ratio = ours / fig.per_cpu_s if fig.per_cpu_s else float("nan")
        print(f"{fig.tool:<14}{fig.requests:>10}{fig.cpu_s:>8.2f}{fig.per_cpu_s:>12.0f}{ratio:>13.2f}")
    print("targets: driver/hey >= 1, driver/k6 >= 3, driver/locust >= 5, driver/wrk >= 0.33")


def long_stage(server: SSEServer, streams: str, seconds: float) -> None:
    print(f"\nlong streams on one worker (10 events/s each, first after 200 ms), {server.kind} server")
    print(f"{'streams':>8}{'lag p99 ms':>12}{'first-event err p99 ms':>24}{'cpu %':>8}"
          f"{'server late p99/max ms':>25}")
    best = 0
    for n in (int(x) for x in streams.split(",")):
        f = long_streams(server, n, seconds)
        late = f"{f.server_late_p99_ms:.1f} / {f.server_late_max_ms:.1f}"
        print(f"{n:>8}{f.lag_p99_ms:>12.1f}{f.error_p99_ms:>24.1f}{f.cpu_percent:>8.0f}{late:>25}")
        if f.lag_p99_ms <= 10.0 and f.error_p99_ms <= 5.0:
            best = n
    print(f"largest stream count held with lag p99 <= 10 ms and first-event error p99 <= 5 ms: "
          f"{best} (target 5,000)")


def _go_bin(name: str) -> str | None:
    path = Path.home() / "go" / "bin" / name
    return str(path) if path.exists() else None


if __name__ == "__main__":
    main()
