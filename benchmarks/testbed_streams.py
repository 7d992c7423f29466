"""How many concurrent streams the testbed (router -> one gateway -> one provider) holds on this
machine with p95 first token within 50 ms of the provider's configured first-token delay.

Target: 1,000 streams (Tier L), with the load driver on the same machine. Run by hand:
`python benchmarks/testbed_streams.py [--stages 750,1000,1250] [--token-interval-ms 500]`.

The load is the framework's own driver (`chaos.load`, one worker process, closed model): N
streams started evenly over the ramp, each issuing chat requests back to back through the
router. A request's first token is its first body byte, measured by the driver as in a drill.
The driver records a request when it ends, so only windows whose requests started after the
ramp-up (one stream length later) are measured. A stage passes when every measured request got
a 200 with a complete stream and the p95 first token is within budget, unless a saturated driver
window decides the figure (as in the evaluator: a saturated driver can only inflate latencies, so a
pass with saturated windows stands; a miss with them is INCONCLUSIVE). Figures are noisy when
other work shares the CPU.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import anyio
from hdrh.histogram import HdrHistogram

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from chaos.load import LoadConfig, LoadController  # after the path set-up
from chaos.recording import LoadWindow
from chaos.testbed import start_testbed, stop_testbed
from tests.testbed_fixture import free_port_config

TARGET_STREAMS = 1000
BUDGET_MS = 50.0
TOKENS = 20


@dataclass(frozen=True)
class Stage:
    streams: int
    requests: int
    ok: int
    failures: dict[str, int]
    p50_first_ms: float
    p95_first_ms: float
    p95_complete_ms: float
    saturated_windows: int
    driver_cpu_max: float

    def verdict(self, delay_ms: float) -> str:
        """PASS, FAIL, or INCONCLUSIVE when the first token misses the budget while some measured
        driver window was saturated (the evaluator's rule: a saturated driver can only inflate
        latencies, so a pass stands, a miss may be the driver's own)."""
        if self.requests == 0 or self.ok != self.requests:
            return "FAIL"
        if self.p95_first_ms <= delay_ms + BUDGET_MS:
            return "PASS"
        return "INCONCLUSIVE" if self.saturated_windows else "FAIL"


def run_stage(url: str, streams: int, ramp_s: float, measure_s: float, stream_s: float) -> Stage:
    settle_s = ramp_s + stream_s + 1.0  # requests ending after this started after the ramp-up
    config = LoadConfig(url=url, streams=streams, ramp_up_s=ramp_s, hold_s=settle_s + measure_s,
                        graceful_s=stream_s + 2.0, workers=1, token_template="tb-{subject}",
                        subjects=max(1, streams // 4), first_byte_timeout_s=10.0,
                        idle_timeout_s=10.0)
    windows: list[LoadWindow] = []
    anyio.run(LoadController(config, windows.append, startup_s=1.0).run)
    t0 = min(w.start for w in windows)
    measured = [w for w in windows
                if w.start >= t0 + settle_s and w.end <= t0 + settle_s + measure_s + 0.01]
    first, complete = HdrHistogram(1, 600_000_000, 3), HdrHistogram(1, 600_000_000, 3)
    counts: Counter[str] = Counter()
    failures: Counter[str] = Counter()
    for w in measured:
        first.add(HdrHistogram.decode(w.first_token_hist))
        complete.add(HdrHistogram.decode(w.completion_hist))
        counts.update(w.counts)
        failures.update({f"transport:{k}": v for k, v in w.transport.items() if v})
        failures.update(w.error_codes)
    requests = sum(counts.values())
    ms = 1000.0
    return Stage(
        streams=streams, requests=requests, ok=counts.get("2xx", 0),
        failures=dict(failures),
        p50_first_ms=first.get_value_at_percentile(50) / ms if requests else float("inf"),
        p95_first_ms=first.get_value_at_percentile(95) / ms if requests else float("inf"),
        p95_complete_ms=complete.get_value_at_percentile(95) / ms if requests else float("inf"),
        saturated_windows=sum(1 for w in measured if w.saturated),
        driver_cpu_max=max((w.cpu_percent for w in measured), default=0.0))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--stages", default="500,750,1000,1250,1500,2000")
    parser.add_argument("--target", choices=("router", "gateway"), default="router",
                        help="send to the router (full path) or straight to gateway us-east")
    parser.add_argument("--token-interval-ms", type=int, default=500,
                        help="provider token interval: 500 gives ~10 s chat-like streams (default), "
                             "50 the 1.2 s streams the drills use")
    parser.add_argument("--ramp-s", type=float, default=10.0, help="ramp-up length")
    parser.add_argument("--measure-s", type=float, default=20.0, help="measured span per stage")
    args = parser.parse_args()
    cfg = free_port_config({"router": {"health_interval_s": 1.0, "health_timeout_s": 0.8,
                                       "failover_after": 3},
                            "gateway": {"rate_limit_requests": 0, "redis_timeout_s": 2.0},
                            "provider": {"first_token_delay_ms": 200,
                                         "token_interval_ms": args.token_interval_ms,
                                         "tokens": TOKENS, "jitter_ms": 5}})
    delay_ms = cfg.provider.first_token_delay_ms
    stream_s = (delay_ms + (TOKENS - 1) * args.token_interval_ms) / 1000.0
    state_path = Path(tempfile.mkdtemp(prefix="chaos-bench-")) / "state.json"
    start_testbed(cfg, state_path, timeout_s=60)
    port = cfg.ports.router if args.target == "router" else cfg.ports.gateways["us-east"]
    url = f"http://127.0.0.1:{port}/api/chat"
    best = 0
    try:
        run_stage(url, 50, 1.0, 1.0, stream_s)  # warm-up: imports, pools, first connections
        print(f"via the {args.target}, load driver with 1 worker on this machine; provider first "
              f"token {delay_ms:.0f} ms, {TOKENS} tokens {args.token_interval_ms} ms apart "
              f"(~{stream_s:.1f} s streams); pass = every request ok and p95 first token <= "
              f"{delay_ms + BUDGET_MS:.0f} ms")
        for n in (int(x) for x in args.stages.split(",")):
            s = run_stage(url, n, args.ramp_s, args.measure_s, stream_s)
            verdict = s.verdict(delay_ms)
            fails = ", ".join(f"{k} {v}" for k, v in sorted(s.failures.items())) or "none"
            print(f"{n:>5} streams: requests {s.requests:>6} ok {s.ok:>6}  p50 first "
                  f"{s.p50_first_ms:7.1f} ms  p95 first {s.p95_first_ms:7.1f} ms  p95 complete "
                  f"{s.p95_complete_ms:8.1f} ms  driver cpu max {s.driver_cpu_max:3.0f}% saturated "
                  f"windows {s.saturated_windows}  failures: {fails}  {verdict}")
            if verdict == "PASS":
                best = max(best, n)
            else:
                break  # more streams will not do better
            time.sleep(2.0)
    finally:
        stop_testbed(state_path)
    print(f"held {best} concurrent streams within budget; target {TARGET_STREAMS}: "
          f"ratio {best / TARGET_STREAMS:.2f}")


if __name__ == "__main__":
    main()
