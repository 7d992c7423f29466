"""What the fault proxy adds per request: the same streamed chat requests sent straight to a
local OpenAI-style target and through `chaos fault-proxy` (its own process, switch off, as
deployed), sequentially and with concurrent streams. Prints p50/p95 of first byte and of the
whole stream, and the difference. Not a test: no assertions, run it by hand.

    python benchmarks/faultproxy.py [--requests 300] [--concurrency 50]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.protocol_target import ProtocolTarget  # the tests' real target
from tests.servers import free_port, wait_for

BODY = b'{"model":"m","messages":[{"role":"user","content":"hi"}],"stream":true}'
HEADERS = {"authorization": "Bearer sk-test-bench", "content-type": "application/json"}


def one(client: httpx.Client, url: str) -> tuple[float, float]:
    """(first body byte, whole stream) in ms."""
    start = time.perf_counter()
    first = None
    with client.stream("POST", url, content=BODY, headers=HEADERS) as response:
        for _ in response.iter_raw():
            if first is None:
                first = time.perf_counter()
    end = time.perf_counter()
    return ((first or end) - start) * 1000, (end - start) * 1000


def run(url: str, requests: int, concurrency: int) -> tuple[list[float], list[float]]:
    def worker(n: int) -> list[tuple[float, float]]:
        with httpx.Client(timeout=30) as client:
            one(client, url)  # warm the keep-alive connection
            return [one(client, url) for _ in range(n)]

    per = max(1, requests // concurrency)
    with ThreadPoolExecutor(concurrency) as pool:
        results = [r for rs in pool.map(worker, [per] * concurrency) for r in rs]
    return [r[0] for r in results], [r[1] for r in results]


def cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[int(q) - 1] if len(values) > 1 else values[0]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--concurrency", type=int, default=50)
    args = parser.parse_args()
    port = free_port()
    with ProtocolTarget(first_token_delay_s=0.0, token_interval_s=0.0, content_chunks=20) as target:
        proxy = subprocess.Popen([sys.executable, "-m", "chaos", "fault-proxy", "--listen",
                                  f"127.0.0.1:{port}", "--upstream", target.url],
                                 stderr=subprocess.DEVNULL)
        try:
            wait_for(lambda: httpx.get(f"http://127.0.0.1:{port}/__chaos/health").status_code == 200,
                     20, "fault proxy")
            for label, concurrency in (("sequential", 1), (f"{args.concurrency} concurrent", args.concurrency)):
                n = args.requests if concurrency == 1 else args.requests * 2
                direct = run(target.url + "/v1/chat/completions", n, concurrency)
                before = cpu_s(proxy.pid)
                proxied = run(f"http://127.0.0.1:{port}/v1/chat/completions", n, concurrency)
                per_request_ms = (cpu_s(proxy.pid) - before) * 1000 / (len(proxied[0]) + concurrency)
                print(f"{label} ({len(direct[0])} requests each, 20 events per stream; proxy CPU "
                      f"{per_request_ms:.2f} ms per request):")
                for name, d, p in (("first byte", direct[0], proxied[0]), ("whole stream", direct[1], proxied[1])):
                    print(f"  {name:12} direct p50 {pct(d, 50):7.2f} ms p95 {pct(d, 95):7.2f} ms | "
                          f"proxy p50 {pct(p, 50):7.2f} ms p95 {pct(p, 95):7.2f} ms | "
                          f"added p50 {pct(p, 50) - pct(d, 50):+.2f} ms")
        finally:
            proxy.terminate()
            proxy.wait(timeout=10)


if __name__ == "__main__":
    main()
