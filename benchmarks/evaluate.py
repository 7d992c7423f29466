"""Benchmark: evaluate a 120-minute Tier X / M3 recording (2 workers x 7200 one-second windows,
20,000 concurrent streams, realistic latency histograms). Target: < 5 s and < 500 MB peak RSS.

Run by hand: `python benchmarks/evaluate.py` (figures are noisy on a shared machine)."""

from __future__ import annotations

import os
import random
import resource
import sys
import time

from hdrh.histogram import HdrHistogram

from chaos.recording import (
    HIST_HIGHEST_US,
    HIST_LOWEST_US,
    HIST_SIGNIFICANT_DIGITS,
    FaultRecord,
    LoadWindow,
    Phase,
    ProbeSecond,
    Recording,
    Sample,
)
from chaos.slo import EvaluationConfig, evaluate

TARGET_S = 5.0
TARGET_MB = 500.0
SECONDS = 7200
WORKERS = 2
STREAMS = 20_000
T0 = 1_700_000_000.0


def _histograms(rng: random.Random, n: int, mu: float, sigma: float, pool: int) -> list[str]:
    out = []
    for _ in range(pool):
        h = HdrHistogram(HIST_LOWEST_US, HIST_HIGHEST_US, HIST_SIGNIFICANT_DIGITS)
        for _ in range(n):
            h.record_value(min(HIST_HIGHEST_US, max(1, int(rng.lognormvariate(mu, sigma)))))
        out.append(h.encode().decode("ascii"))
    return out


def build() -> Recording:
    rng = random.Random(7)
    # 20,000 streams with ~10 s completions: ~1,000 requests end per worker per second.
    per_worker = 1000
    # A pool of distinct realistic histograms (first token ~600 ms, completion ~9 s), each
    # window gets its own string object: the evaluator decodes every one of them.
    first = _histograms(rng, per_worker, 13.3, 0.5, 64)
    completion = _histograms(rng, per_worker, 16.0, 0.3, 64)
    windows = []
    for sec in range(SECONDS):
        for w in range(WORKERS):
            windows.append(LoadWindow(  # noqa: PERF401 - a nested loop reads better here
                run_id="bench", worker_id=f"w{w}", incarnation=1, seq=sec,
                start=T0 + sec, end=T0 + sec + 1,
                started=per_worker, counts={"2xx": per_worker - 3, "429": 2, "4xx": 0, "5xx": 1, "transport": 0},
                error_codes={}, transport={}, regions={"us-east": per_worker},
                first_token_hist="".join([first[rng.randrange(64)]]),
                completion_hist="".join([completion[rng.randrange(64)]]),
                in_flight=STREAMS // WORKERS, loop_lag_p99_ms=3.0, cpu_percent=60.0,
            ))
    fault_at, fault_end = 3600, 3900
    phases = (
        Phase("baseline", "baseline", T0, T0 + fault_at, "X"),
        Phase("fault:us-east-down", "fault", T0 + fault_at, T0 + fault_end, "G", "us-east-down"),
        Phase("recovery", "recovery", T0 + fault_end, T0 + SECONDS, "X"),
    )
    samples = []
    for sec in range(SECONDS):
        t = T0 + sec
        samples += [Sample(t, "circuit_state", {"route": "primary"}, 0.0),
                    Sample(t, "queue_oldest_age_s", {}, 2.0),
                    Sample(t, "active_region", {"region": "us-east"}, 1.0),
                    Sample(t, "failovers_total", {}, 0.0)]
    probes = tuple(ProbeSecond(T0 + s, True, True, region="us-east", chat_first_token_ms=300.0)
                   for s in range(SECONDS))
    fault = FaultRecord("us-east-down", "region_failover", "network", "us-east", T0 + fault_at,
                        T0 + fault_end, applied_at=T0 + fault_at, reverted_at=T0 + fault_end)
    return Recording("bench", T0, T0 + SECONDS, phases, tuple(windows), samples=tuple(samples),
                     probes=probes, faults=(fault,))


def main() -> int:
    t = time.perf_counter()
    rec = build()
    build_s = time.perf_counter() - t
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    t, cpu = time.perf_counter(), time.process_time()
    report = evaluate(EvaluationConfig(tier="X", gate="M3"), rec)
    elapsed, cpu_s = time.perf_counter() - t, time.process_time() - cpu
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print(f"recording: {len(rec.windows)} windows, {len(rec.samples)} samples, {len(rec.probes)} probes "
          f"(built in {build_s:.1f} s, RSS after build {rss_before:.0f} MB)")
    print(f"evaluate: {elapsed:.2f} s wall, {cpu_s:.2f} s CPU (target {TARGET_S:g} s, ratio "
          f"{elapsed / TARGET_S:.2f} wall / {cpu_s / TARGET_S:.2f} CPU; load average "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores: wall time is noisy when shared)")
    print(f"peak RSS: {peak_mb:.0f} MB (target {TARGET_MB:g} MB, ratio {peak_mb / TARGET_MB:.2f})")
    print(f"verdict {report.verdict.value}, gate {report.gate_verdict.value if report.gate_verdict else '-'}, "
          f"{len(report.criteria)} criteria, requests {report.load.ended:,}")
    return 0 if elapsed < TARGET_S and peak_mb < TARGET_MB else 1


if __name__ == "__main__":
    sys.exit(main())
