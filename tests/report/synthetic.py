"""Synthetic recordings for report tests: plausible per-second windows, samples and a fault."""

from __future__ import annotations

from hdrh.histogram import HdrHistogram

from chaos.recording import (
    HIST_HIGHEST_US,
    HIST_LOWEST_US,
    HIST_SIGNIFICANT_DIGITS,
    STATUS_CLASSES,
    FaultAction,
    FaultRecord,
    LoadWindow,
    Phase,
    ProbeSecond,
    Recording,
    Sample,
)
from chaos.slo.verdict import Criterion, Verdict

T0 = 1_760_000_000.0


def hist(values_ms: list[float]) -> str:
    h = HdrHistogram(HIST_LOWEST_US, HIST_HIGHEST_US, HIST_SIGNIFICANT_DIGITS)
    for v in values_ms:
        h.record_value(int(v * 1000))
    return h.encode().decode("ascii")


def recording(*, seconds: int = 30, complete: bool = True, fault_at: int = 10, fault_for: int = 10,
              broken: int = 0) -> Recording:
    """Two workers at 50 requests/s each; the fault answers 5 of them 5xx per second (and
    `broken` more end as broken streams). Each worker keeps 20 streams in flight, so the
    first window started 20 more than it ended: started == ended + in flight at the end."""
    windows = [
                LoadWindow(
                    run_id="run-1", worker_id=worker, incarnation=0, seq=i,
                    start=T0 + i, end=T0 + i + 1, started=70 if i == 0 else 50,
                    counts={"2xx": 45 - broken if in_fault else 50, "429": 0, "4xx": 0, "5xx": 5 if in_fault else 0,
                            "transport": 0, "broken": broken if in_fault else 0},
                    error_codes={"provider_unavailable": 5} if in_fault else {},
                    transport={}, regions={"us-west" if in_fault else "us-east": 50},
                    first_token_hist=hist([120.0 + i] * 40 + [900.0 if in_fault else 300.0] * 10),
                    completion_hist=hist([1500.0] * 50),
                    in_flight=20, loop_lag_p99_ms=3.0, cpu_percent=40.0,
                )
                for i in range(seconds)
                for in_fault in [fault_at <= i < fault_at + fault_for]
                for worker in ("w0", "w1")
    ]
    samples = [
        Sample(t=T0 + i, metric="circuit_state", labels={"route": "primary"},
               value=1.0 if fault_at + 2 <= i < fault_at + fault_for else 0.0)
        for i in range(seconds)
    ] + [Sample(t=T0 + i, metric="queue_oldest_age_s", labels={}, value=None if i == 5 else 0.5) for i in range(seconds)]
    probes = [ProbeSecond(t=T0 + i, health_ok=True, chat_ok=True, region="us-east") for i in range(seconds)]
    fault = FaultRecord(
        id="provider-down", scenario="provider_outage", mode="down", target="primary",
        scheduled_at=T0 + fault_at, scheduled_end=T0 + fault_at + fault_for,
        applied_at=T0 + fault_at + 0.05, reverted_at=T0 + fault_at + fault_for + 0.04,
        actions=(FaultAction("toxiproxy.disable", "us-east-primary", {}, T0 + fault_at, T0 + fault_at + fault_for, "targeted"),),
    )
    phases = (
        Phase("ramp_up", "ramp_up", T0, T0 + 2),
        Phase("baseline", "baseline", T0 + 2, T0 + fault_at, tier="L"),
        Phase("fault:provider-down", "fault", T0 + fault_at, T0 + fault_at + fault_for, tier="L", fault_id="provider-down"),
        Phase("recovery", "recovery", T0 + fault_at + fault_for, T0 + seconds - 2, tier="L"),
        Phase("ramp_down", "ramp_down", T0 + seconds - 2, T0 + seconds),
    )
    return Recording(
        run_id="run-1", started_at=T0, ended_at=T0 + seconds, phases=phases, windows=tuple(windows),
        samples=tuple(samples), probes=tuple(probes), faults=(fault,), time_scale=0.1, load_scale=1.0,
        complete=complete, aborted=None if complete else "interrupted",
    )


def criteria() -> tuple[Criterion, ...]:
    return (
        Criterion("tier_l.p95_first_token@baseline", Verdict.PASS, 300.0, 3000.0, "ms", "baseline",
                  "p95 first token 300 ms is within 3,000 ms", T0 + 2, T0 + 10, "<="),
        Criterion("tier_l.rate_5xx@fault:provider-down", Verdict.FAIL, 10.0, 1.0, "%", "fault:provider-down",
                  "5xx rate 10% is above 1%", T0 + 10, T0 + 20, "<="),
        Criterion("tier_l.p95_first_token@fault:provider-down", Verdict.PASS, 900.0, 3000.0, "ms",
                  "fault:provider-down", "within", T0 + 10, T0 + 20, "<="),
        Criterion("limits.circuit_open_max@run", Verdict.INCONCLUSIVE, None, 120.0, "s", "run",
                  "no circuit data for 1 s", None, None, "<="),
    )


def long_recording(*, seconds: int = 7200, workers: int = 2) -> Recording:
    """A long run (two hours by default) with every outcome class and a fault in its middle;
    histograms are shared between windows so building it stays cheap."""
    quiet = hist([150.0] * 45 + [400.0] * 5)
    slow = hist([900.0] * 40 + [2800.0] * 10)
    done = hist([1500.0] * 45)
    fault_at, fault_for = seconds // 2, seconds // 6
    counts_ok = dict.fromkeys(STATUS_CLASSES, 0) | {"2xx": 48, "429": 1, "4xx": 1}
    counts_bad = dict.fromkeys(STATUS_CLASSES, 1) | {"2xx": 40, "5xx": 2}
    windows = [
        LoadWindow(
            run_id="run-long", worker_id=f"w{n}", incarnation=0, seq=i, start=T0 + i, end=T0 + i + 1,
            started=50, counts=counts_bad if bad else counts_ok,
            error_codes={"provider_unavailable": 2} if bad else {}, transport={"reset": 1} if bad else {},
            regions={"us-east": 50}, first_token_hist=slow if bad else quiet, completion_hist=done,
            in_flight=0, loop_lag_p99_ms=2.0, cpu_percent=30.0)
        for i in range(seconds)
        for bad in [fault_at <= i < fault_at + fault_for]
        for n in range(workers)
    ]
    phases = (
        Phase("ramp_up", "ramp_up", T0, T0 + 60),
        Phase("baseline", "baseline", T0 + 60, T0 + fault_at, tier="G"),
        Phase("fault:outage", "fault", T0 + fault_at, T0 + fault_at + fault_for, tier="G", fault_id="outage"),
        Phase("recovery", "recovery", T0 + fault_at + fault_for, T0 + seconds - 60, tier="G"),
        Phase("ramp_down", "ramp_down", T0 + seconds - 60, T0 + seconds),
    )
    fault = FaultRecord(id="outage", scenario="provider_outage", mode="down", target="primary",
                        scheduled_at=T0 + fault_at, scheduled_end=T0 + fault_at + fault_for,
                        applied_at=T0 + fault_at, reverted_at=T0 + fault_at + fault_for)
    samples = tuple(Sample(t=T0 + i, metric="circuit_state", labels={"route": "primary"}, value=0.0)
                    for i in range(0, seconds, 5))
    probes = tuple(ProbeSecond(t=T0 + i, health_ok=True, chat_ok=i % 97 != 0) for i in range(seconds))
    return Recording(run_id="run-long", started_at=T0, ended_at=T0 + seconds, phases=phases,
                     windows=tuple(windows), samples=samples, probes=probes, faults=(fault,))
