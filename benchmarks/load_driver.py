"""Load-driver benchmark: requests per client CPU-second against wrk, hey, Locust and k6, and
the long streams one worker core holds with loop-lag p99 <= 10 ms.

    python benchmarks/load_driver.py [--seconds 5] [--connections 64] [--streams 1000,2500,5000]
                                     [--server auto|go|python] [--stages short,long] [--repeat 1]

Every tool hits the same local SSE test server in its own process: the Go one
(benchmarks/sse_server_go, built with `go build` on first use) when `go` is on PATH, else
the Python one (tests/load/sse_server.py); the first line says which. Both send the same
bytes for the same query (benchmarks/sse_server_parity.py checks it).

Short responses: every tool POSTs the same OpenAI chat request (the body
`OpenAIProfile(model="bench")` builds) to the same URL, `events=5&format=openai`: a role
chunk with the first of 5 content chunks, then a finish chunk, a usage chunk and
`data: [DONE]`, one flushed HTTP chunk per event (1,393 bytes with the head). The chaos
driver reads every stream through its openai profile (SSE decoding, a JSON parse per
chunk, the completion rule); the other tools only read the bytes. A second driver line
reads the testbed dialect (`CustomProfile()`, `events=5`: 5 `data: {"token": ...}` events
and `data: [DONE]`), so the cost of OpenAI parsing shows, and a `python floor` line
(benchmarks/lean_client.py: uvloop and httptools, keep-alive, reading nothing of the body)
shows what any Python client pays for the same requests, so the cost of judging every
stream shows, and whether a target is within reach of Python at all (the run prints the
req/cpu-s each target needs). --baseline REF adds the driver of another git ref (a
temporary worktree, benchmarks/baseline_driver.py) to the same run, e.g. f6118f7, the
last driver before protocol profiles, which read no stream: whether the hot path kept
its speed. Every driver request must be
classified complete (a stream without [DONE] is truncated): a loud WARNING says when not.
For the long streams, as in issue 10's set-up, the server runs on the machine's last core
and the driver's worker on the others, alone (the controller process joins the server once
the worker has started), so that nothing takes the worker's core (its loop lag is the
figure); --pin all does it for the short stage too, --pin none for neither.
Pinned, every short-response tool pays more kernel CPU a request (cross-core wake-ups: wrk
44k -> 27k req/cpu-s here), so the short stage shares the cores by default. Client CPU is
measured from the tool's process rusage (user + sys), so the figures compare clients, not
the server; the driver's is its worker's own CPU over its windows. Missing
tools are named and skipped. On a shared machine the figures are noisy: run it when the
machine is quiet, with --repeat 3 or more (medians and ranges at the end; each ratio is
taken within its run). The long-stream stage (openai
format and profile too) also reports the server's own first-event lateness, so the
client's error can be told apart from the server's.
Targets (issue 10): >= hey, >= 3x k6, >= 5x Locust, within 3x of wrk; 5,000 streams of
10 events/s per worker core with first-event error p99 <= 5 ms.

The peer tools are installed by hand (not by scripts/setup.sh or CI), e.g. as root:

    go install github.com/rakyll/hey@latest       # into ~/go/bin, which the script also looks in
    go install go.k6.io/k6@latest                 # a few minutes to build; ~/go/bin too
    apt-get update && apt-get install -y wrk
    python -m venv /opt/locust-venv && /opt/locust-venv/bin/pip install locust \
        && ln -sf /opt/locust-venv/bin/locust /usr/local/bin/locust   # its own venv: gevent & co.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import anyio
from hdrh.histogram import HdrHistogram

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sse_servers import SSEServer, start_server  # noqa: E402  # benchmarks/ is the script's directory

from chaos.load import LoadConfig, LoadController  # noqa: E402  # after the path set-up
from chaos.load.statistics import LoadSummary  # noqa: E402
from chaos.protocols import CustomProfile, OpenAIProfile, Profile  # noqa: E402
from chaos.recording import LoadWindow  # noqa: E402

OPENAI = OpenAIProfile(model="bench")
OPENAI_PATH = "/v1/chat/completions"
SHORT_EVENTS = 5
SHORT_QUERY = f"events={SHORT_EVENTS}&format=openai"  # what every tool hits
TESTBED = CustomProfile()  # the testbed dialect, for the driver's second line
TESTBED_PATH = "/api/chat"
TESTBED_QUERY = f"events={SHORT_EVENTS}"  # 5 `data: {"token": ...}` events, then `data: [DONE]`
MESSAGE = "hi"
# Every tool sends the driver's own OpenAI request body (no single quote in it: it goes
# into Lua, JavaScript and Python string literals below).
BODY = OPENAI.request(MESSAGE, "s0", None).body.decode()


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


def run_driver(label: str, url: str, protocol: Profile, seconds: float, connections: int,
               events_per_request: int) -> Figure:
    """The driver's CPU is its worker's own measurement over its windows (the interpreter's
    start-up, ~0.3 CPU-s of imports, is left out as a native tool has none). Only complete
    streams count; `check_complete` warns unless every request was one."""
    config = LoadConfig(url=url, streams=connections, hold_s=seconds, graceful_s=2.0, workers=1,
                        protocol=protocol, message=MESSAGE)
    windows: list[LoadWindow] = []
    summary = anyio.run(LoadController(config, windows.append, startup_s=1.0).run)
    cpu_s = sum(w.cpu_percent / 100.0 * (w.end - w.start) for w in windows)
    print("\n".join(check_complete(label, summary, windows, events_per_request, SHORT_EVENTS)))
    return Figure(label, summary.counts["2xx"], cpu_s)


def check_complete(label: str, summary: LoadSummary, windows: list[LoadWindow],
                   events_per_request: int | None, tokens_per_request: int | None) -> list[str]:
    """Lines that say how the driver classified its requests, and a loud WARNING unless every
    recorded request was a complete stream with the events (and output tokens) the server
    sent: a benchmark of truncated or malformed streams measures nothing. Never raises."""
    complete = summary.counts.get("2xx", 0)
    other = {cls: n for cls, n in summary.counts.items() if cls != "2xx" and n}
    events = sum(w.events for w in windows)
    tokens = sum(w.output_tokens for w in windows)
    sources = {k: sum(w.token_sources.get(k, 0) for w in windows) for k in ("usage", "chunks")}
    per = max(complete, 1)
    lines = [f"{label}: {complete:,} of {summary.requests_recorded:,} recorded requests complete"
          f" ({summary.cancelled} cancelled at the end); {events / per:.2f} events and"
          f" {tokens / per:.2f} output tokens per request, token counts from usage {sources['usage']:,},"
          f" from chunks {sources['chunks']:,}"]
    problems: list[str] = []
    if complete == 0:
        problems.append("no request completed")
    if other:
        codes = ", ".join(f"{k}: {v}" for k, v in sorted(summary.error_codes.items())) or "none"
        problems.append(f"not complete: {other} (codes: {codes})")
    if complete and complete == summary.requests_recorded and events_per_request is not None \
            and events != events_per_request * complete:
        problems.append(f"{events / per:.2f} events per request, expected {events_per_request}")
    if complete and tokens_per_request is not None and tokens != tokens_per_request * complete:
        problems.append(f"{tokens / per:.2f} output tokens per request, expected {tokens_per_request}")
    lines.extend(f"!!! WARNING: {label}: {problem}: these figures do not measure complete streams !!!"
                 for problem in problems)
    return lines


def run_script(label: str, script: str, args: list[str], tree: Path | None = None) -> Figure:
    """A helper script of benchmarks/ that measures its own CPU and prints `<requests> <CPU
    seconds>` last (lean_client.py, baseline_driver.py); run in `tree`, on its PYTHONPATH,
    when given. A failure is one line and a zero figure."""
    out = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / script), *args], capture_output=True, text=True,
        cwd=tree, env=None if tree is None else {**os.environ, "PYTHONPATH": str(tree)},
    )
    if out.returncode != 0:
        print(f"{label}: failed: {(out.stderr.strip().splitlines() or ['exit ' + str(out.returncode)])[-1]}")
        return Figure(label, 0, 0.0)
    requests, cpu = out.stdout.split()[-2:]
    return Figure(label, int(requests), float(cpu))


def run_lean(url: str, seconds: float, connections: int) -> Figure:
    """benchmarks/lean_client.py: the same requests from a Python client that reads nothing
    of the body. Its CPU is its own from the first request on, as the driver's is."""
    return run_script("python floor", "lean_client.py", [url, BODY, str(seconds), str(connections)])


@dataclass(frozen=True)
class Baseline:
    """Another checkout's driver, run beside the current one (--baseline)."""

    ref: str
    tree: Path


def run_baseline(baseline: Baseline, url: str, seconds: float, connections: int) -> Figure:
    return run_script(f"driver@{baseline.ref}", "baseline_driver.py",
                      [str(baseline.tree), url, str(seconds), str(connections)], tree=baseline.tree)


@contextlib.contextmanager
def baseline_tree(ref: str | None) -> Iterator[Baseline | None]:
    """A detached git worktree at `ref` (its compiled reader built when it has one), removed
    at the end."""
    if ref is None:
        yield None
        return
    tree = Path(tempfile.mkdtemp(prefix="chaos-baseline-"))
    added = subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", "--force", str(tree), ref],
                           capture_output=True, text=True)
    if added.returncode != 0:
        tree.rmdir()
        why = (added.stderr.strip().splitlines() or [f"exit {added.returncode}"])[-1]
        raise SystemExit(f"--baseline {ref}: git worktree add failed: {why}")
    try:
        if (tree / "setup.py").exists():
            subprocess.run([sys.executable, "setup.py", "build_ext", "--inplace"], cwd=tree,
                           capture_output=True)
        yield Baseline(ref, tree)
    finally:
        subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(tree)],
                       capture_output=True)


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
    parts = urlsplit(url)
    host, path = f"{parts.scheme}://{parts.netloc}", f"{parts.path}?{parts.query}"
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as f:
        f.write(
            "from locust import task\nfrom locust.contrib.fasthttp import FastHttpUser\n"
            "class U(FastHttpUser):\n    @task\n    def chat(self):\n"
            f"        self.client.post('{path}', data='{BODY}', headers={{'Content-Type': 'application/json'}})\n"
        )
    out = subprocess.run(["locust", "-f", f.name, "--headless", "-u", str(connections), "-r", str(connections),
                          "-t", f"{int(seconds)}s", "--host", host, "--only-summary"],
                         capture_output=True, text=True).stderr
    os.unlink(f.name)
    match = re.search(r"Aggregated\s+(\d+)", out)
    return int(match.group(1)) if match else 0


def run_k6(binary: str, url: str, seconds: float, connections: int) -> int:
    with tempfile.NamedTemporaryFile("w", suffix=".js", delete=False) as f:
        f.write("import http from 'k6/http';\nexport default function () {\n"
                f"  http.post('{url}', '{BODY}', {{headers: {{'Content-Type': 'application/json'}}}});\n}}\n")
    out = subprocess.run([binary, "run", "--vus", str(connections), "--duration", f"{int(seconds)}s", f.name],
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
    checks: list[str]  # how the driver classified the run's requests (check_complete)


LONG_EVENTS = 50
LONG_QUERY = f"first_ms=200&events={LONG_EVENTS}&interval_ms=100&format=openai"
LONG_STREAM_S = 0.2 + 49 * 0.1  # one long stream's duration


def long_streams(server: SSEServer, streams: int, seconds: float, isolate: bool) -> StreamFigures:
    """One worker holding `streams` streams of 50 events 100 ms apart, the first after
    200 ms, for `seconds` of steady state.

    A request is recorded in the window where it ends, one stream (5.1 s) after its first
    event: the steady windows are those after the ramp-up, +1 s, + one stream, so that no
    request measured there started during the ramp-up (connection set-up, heavier work);
    the hold is extended by as much. The server's lateness is counted over the same span."""
    url = server.url(LONG_QUERY, OPENAI_PATH)
    ramp = max(2.0, streams / 1000)
    startup_s = 1.5
    settle_s = ramp + 1.0 + LONG_STREAM_S
    config = LoadConfig(url=url, streams=streams, ramp_up_s=ramp, hold_s=seconds + 1.0 + LONG_STREAM_S,
                        graceful_s=1.0, workers=1, protocol=OPENAI, message=MESSAGE)
    windows: list[LoadWindow] = []

    async def run() -> LoadSummary:
        async def reset_server_stats_at_steady_state() -> None:
            await anyio.sleep(startup_s + ramp + 1.0)  # first events of the measured requests
            await anyio.to_thread.run_sync(lambda: server.stats(reset=True))

        async def isolate_the_worker() -> None:
            print(f"    ({await server.isolate_workers(startup_s)})")

        async with anyio.create_task_group() as tg:
            tg.start_soon(reset_server_stats_at_steady_state)
            if isolate:
                tg.start_soon(isolate_the_worker)
            return await LoadController(config, windows.append, startup_s=startup_s).run()
        raise AssertionError("unreachable")  # the task group returns or raises

    if isolate:
        server.pin(True)  # this process back on the clients' cores: the worker inherits them
    summary = anyio.run(run)
    # Events are counted where a request ends, and the run's end cancels streams part-way:
    # only the output tokens per complete stream are checked exactly.
    checks = check_complete(f"{streams} long streams", summary, windows, None, LONG_EVENTS)
    late = server.stats()
    steady = [w for w in windows if w.start >= windows[0].start + settle_s and w.end - w.start >= 0.99]
    hist = HdrHistogram(1, 600_000_000, 3)
    for w in steady:
        if w.first_token_hist:  # "" for a window in which no stream completed
            hist.add(HdrHistogram.decode(w.first_token_hist))
    if not steady or hist.get_total_count() == 0:
        nan = float("nan")
        return StreamFigures(nan, nan, nan, nan, nan, checks)
    return StreamFigures(
        lag_p99_ms=max(w.loop_lag_p99_ms for w in steady),
        error_p99_ms=hist.get_value_at_percentile(99) / 1000 - 200.0,
        cpu_percent=max(w.cpu_percent for w in steady),
        server_late_p99_ms=float(late["first_event_late_p99_ms"]),
        server_late_max_ms=float(late["first_event_late_max_ms"]),
        checks=checks,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--streams", default="1000,2500,5000")
    parser.add_argument("--server", choices=("auto", "go", "python"), default="auto",
                        help="the SSE test server (auto: Go when `go` is on PATH)")
    parser.add_argument("--stages", default="short,long", help="short, long or both")
    parser.add_argument("--repeat", type=int, default=1,
                        help="run the stages this many times, then print medians and ranges")
    parser.add_argument("--pin", choices=("long", "all", "none"), default="long",
                        help="the stages whose server runs on a core of its own (SSEServer.pin)")
    parser.add_argument("--baseline", metavar="REF", default=None,
                        help="also run the driver of this git ref (a worktree) beside the current one")
    args = parser.parse_args()
    with baseline_tree(args.baseline) as baseline:
        run_all(args, baseline)


def run_all(args: argparse.Namespace, baseline: Baseline | None) -> None:
    server, line = start_server(args.server)
    print(line)
    shorts: list[list[Figure]] = []
    longs: list[list[tuple[int, StreamFigures]]] = []
    try:
        for run in range(args.repeat):
            print(f"\n== run {run + 1} of {args.repeat}: machine {os.cpu_count()} cores, load average"
                  f" {os.getloadavg()[0]:.1f} (shared: figures are noisy)")
            if "short" in args.stages:
                print(server.pin(args.pin == "all"))
                shorts.append(short_stage(server, args.seconds, args.connections, baseline))
            if "long" in args.stages:
                print(server.pin(args.pin != "none"))
                longs.append(long_stage(server, args.streams, args.seconds, args.pin != "none"))
    finally:
        server.stop()
    if args.repeat > 1:
        summarize(shorts, longs)


def _spread(values: list[float], fmt: str) -> str:
    """median (min-max) of `values`, each formatted with `fmt`."""
    finite = sorted(v for v in values if v == v)
    if not finite:
        return "n/a"
    return f"{format(statistics.median(finite), fmt)} ({format(finite[0], fmt)}-{format(finite[-1], fmt)})"


def summarize(shorts: list[list[Figure]], longs: list[list[tuple[int, StreamFigures]]]) -> None:
    """Medians and ranges over the runs; a ratio is taken within each run (side by side)."""
    print(f"\n== over {max(len(shorts), len(longs))} runs: median (min-max)")
    if shorts:
        print(f"{'tool':<15}{'req/cpu-s':>24}{'us cpu/req':>22}{'driver/tool':>22}{'target':>8}  met in")
        for i, fig in enumerate(shorts[0]):
            runs = [figs[i] for figs in shorts if i < len(figs) and figs[i].tool == fig.tool]
            rates = [f.per_cpu_s for f in runs]
            ratios = [figs[0].per_cpu_s / figs[i].per_cpu_s if figs[i].per_cpu_s else float("nan")
                      for figs in shorts if i < len(figs) and figs[i].tool == fig.tool]
            target = TARGETS.get(fig.tool)
            met = "" if target is None else f"{sum(r >= target for r in ratios)} of {len(ratios)} runs"
            goal = "" if target is None else f">= {target:g}"
            print(f"{fig.tool:<15}{_spread(rates, '.0f'):>24}{_spread([1e6 / r for r in rates if r], '.1f'):>22}"
                  f"{_spread(ratios, '.2f'):>22}{goal:>8}  {met}")
    if longs:
        print(f"{'streams':>8}{'lag p99 ms':>24}{'first-event err p99 ms':>26}{'cpu %':>16}"
              f"{'server late p99 ms':>24}  held in")
        for i, (n, _) in enumerate(longs[0]):
            streams = [figs[i][1] for figs in longs if i < len(figs)]
            held = sum(f.lag_p99_ms <= 10.0 and f.error_p99_ms <= 5.0 for f in streams)
            print(f"{n:>8}{_spread([f.lag_p99_ms for f in streams], '.1f'):>24}"
                  f"{_spread([f.error_p99_ms for f in streams], '.1f'):>26}"
                  f"{_spread([f.cpu_percent for f in streams], '.0f'):>16}"
                  f"{_spread([f.server_late_p99_ms for f in streams], '.1f'):>24}  {held} of {len(streams)} runs")


# The issue-10 targets: driver req/CPU-s over the tool's, at least.
TARGETS = {"wrk": 0.33, "hey": 1.0, "locust": 5.0, "k6": 3.0}


def short_stage(server: SSEServer, seconds: float, connections: int,
                baseline: Baseline | None = None) -> list[Figure]:
    url = server.url(SHORT_QUERY, OPENAI_PATH)
    wire = len(server.raw_response(SHORT_QUERY, OPENAI_PATH, BODY.encode()))
    testbed_wire = len(server.raw_response(TESTBED_QUERY, TESTBED_PATH))
    # Events per request: openai role+content, 4 more content, finish, usage, [DONE]; testbed 5 + [DONE].
    figures = [
        run_driver("chaos openai", url, OPENAI, seconds, connections, SHORT_EVENTS + 4),
        run_driver("chaos testbed", server.url(TESTBED_QUERY, TESTBED_PATH), TESTBED, seconds,
                   connections, SHORT_EVENTS + 1),
        run_lean(url, seconds, connections),
    ]
    if baseline is not None:
        figures.append(run_baseline(baseline, url, seconds, connections))
    tools: list[tuple[str, str | None, Callable[[], int]]] = [
        ("wrk", shutil.which("wrk"), lambda: run_wrk(url, seconds, connections)),
        ("hey", shutil.which("hey") or _go_bin("hey"), lambda: run_hey(
            shutil.which("hey") or _go_bin("hey") or "hey", url, seconds, connections)),
        ("locust", shutil.which("locust"), lambda: run_locust(url, seconds, connections)),
        ("k6", shutil.which("k6") or _go_bin("k6"), lambda: run_k6(
            shutil.which("k6") or _go_bin("k6") or "k6", url, seconds, connections)),
    ]
    for name, binary, run in tools:
        if binary is None:
            print(f"{name}: not installed, skipped")
            continue
        figures.append(measured(name, run))
    ours, testbed = figures[0].per_cpu_s, figures[1].per_cpu_s
    print(f"\nshort SSE responses ({SHORT_EVENTS} events), {connections} connections, {seconds:.0f} s each;"
          f" every tool and `chaos openai`: {SHORT_QUERY} ({wire:,} bytes a response),"
          f" `chaos testbed`: {TESTBED_QUERY} ({testbed_wire:,} bytes)")
    print(f"{'tool':<15}{'requests':>10}{'cpu s':>8}{'req/cpu-s':>12}{'us cpu/req':>12}"
          f"{'driver/tool':>13}{'target':>8}  verdict")
    for fig in figures:
        ratio = ours / fig.per_cpu_s if fig.per_cpu_s else float("nan")
        us = 1e6 / fig.per_cpu_s if fig.per_cpu_s else float("nan")
        target = TARGETS.get(fig.tool)
        verdict = "" if target is None else ("met" if ratio >= target else "NOT met")
        goal = "" if target is None else f">= {target:g}"
        print(f"{fig.tool:<15}{fig.requests:>10}{fig.cpu_s:>8.2f}{fig.per_cpu_s:>12.0f}{us:>12.1f}"
              f"{ratio:>13.2f}{goal:>8}  {verdict}")
    if ours and testbed:
        extra = 1e6 / ours - 1e6 / testbed
        print(f"openai parsing: {extra:+.1f} us CPU a request over the testbed dialect"
              f" ({ours / testbed:.2f}x the testbed's req/cpu-s)")
    floor = figures[2].per_cpu_s
    compared = [("judging and recording every stream, over the python floor", floor)]
    if baseline is not None:
        compared.append((f"against {figures[3].tool}", figures[3].per_cpu_s))
    for what, other in compared:
        if ours and other:
            print(f"{what}: {1e6 / ours - 1e6 / other:+.1f} us CPU a request ({ours / other:.2f}x its req/cpu-s)")
    needs = [f"{fig.tool} {TARGETS[fig.tool]:g}x needs {TARGETS[fig.tool] * fig.per_cpu_s:,.0f}"
             for fig in figures if fig.tool in TARGETS and fig.per_cpu_s]
    if needs:
        print(f"req/cpu-s the driver needs: {', '.join(needs)}; the python floor did {floor:,.0f}")
    print("driver/tool is `chaos openai` req/cpu-s over the tool's;"
          " targets: driver/hey >= 1, driver/k6 >= 3, driver/locust >= 5, driver/wrk >= 0.33")
    return figures


def long_stage(server: SSEServer, streams: str, seconds: float,
               isolate: bool) -> list[tuple[int, StreamFigures]]:
    print(f"\nlong streams on one worker (10 events/s each, first after 200 ms, {LONG_QUERY},"
          f" openai profile), {server.kind} server")
    print(f"{'streams':>8}{'lag p99 ms':>12}{'first-event err p99 ms':>24}{'cpu %':>8}"
          f"{'server late p99/max ms':>25}")
    best = 0
    checks: list[str] = []
    results: list[tuple[int, StreamFigures]] = []
    for n in (int(x) for x in streams.split(",")):
        f = long_streams(server, n, seconds, isolate)
        results.append((n, f))
        late = f"{f.server_late_p99_ms:.1f} / {f.server_late_max_ms:.1f}"
        print(f"{n:>8}{f.lag_p99_ms:>12.1f}{f.error_p99_ms:>24.1f}{f.cpu_percent:>8.0f}{late:>25}")
        checks.extend(f.checks)
        if f.lag_p99_ms <= 10.0 and f.error_p99_ms <= 5.0:
            best = n
    print("\n".join(checks))
    print(f"largest stream count held with lag p99 <= 10 ms and first-event error p99 <= 5 ms: "
          f"{best} (target 5,000)")
    return results


def _go_bin(name: str) -> str | None:
    path = Path.home() / "go" / "bin" / name
    return str(path) if path.exists() else None


if __name__ == "__main__":
    main()
