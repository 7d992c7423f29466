"""Region failover timings: detection, first response from another region, and back within SLO."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from chaos.recording import FaultRecord, LoadWindow, ProbeSecond, Sample, server_failures
from chaos.slo.config import Thresholds
from chaos.slo.limits import FAILOVERS_METRIC, active_regions, counter_increments
from chaos.slo.scope import window_instant
from chaos.slo.series import max_per_instant, points
from chaos.slo.tier_rules import at_least, at_most


@dataclass(frozen=True, slots=True)
class FailoverTiming:
    """Seconds from the fault's effective instant; None when it did not happen in the run."""

    fault_id: str
    region: str
    applied_at: float
    reverted_at: float | None
    detection_s: float | None  # router's active region changed or failovers_total rose
    detection_resolution_s: float
    failover_s: float | None  # first response served by another region (windows or probes)
    failover_resolution_s: float
    back_within_slo_s: float | None  # from revert to the first second from which rates stay within tier
    back_within_slo_window_s: float
    served_by: str | None  # the region that took over


def _detection(samples: Sequence[Sample], applied: float) -> float | None:
    before: frozenset[str] | None = None
    candidates = []
    for t, regions in active_regions(samples):
        if not regions:
            continue
        if t < applied:
            before = regions
        elif before is not None and regions != before:
            candidates.append(t)
            break
    incs = counter_increments(max_per_instant(points(samples, FAILOVERS_METRIC)), applied, math.inf)
    if incs:
        candidates.append(incs[0][0])
    return min(candidates) - applied if candidates else None


def _was_active(samples: Sequence[Sample], region: str, applied: float) -> bool:
    """Whether `region` served traffic when the fault took effect (True when unknown)."""
    before: frozenset[str] | None = None
    for t, regions in active_regions(samples):
        if t >= applied:
            break
        if regions:
            before = regions
    return before is None or region in before


def _failover(windows: Sequence[LoadWindow], probes: Sequence[ProbeSecond], region: str,
              applied: float) -> tuple[float | None, str | None]:
    best: tuple[float, str] | None = None
    for w in windows:
        if window_instant(w.start, w.end) < applied:
            continue
        others = [r for r, n in w.regions.items() if r != region and n > 0]
        if others and (best is None or w.end < best[0]):
            best = (w.end, sorted(others)[0])  # the window's end bounds the first response
    for p in probes:
        if p.t >= applied and p.chat_ok and p.region is not None and p.region != region:
            at = p.t + (p.chat_first_token_ms or 0.0) / 1000.0
            if best is None or at < best[0]:
                best = (at, p.region)
    if best is None:
        return None, None
    return max(0.0, best[0] - applied), best[1]


def _back_within(windows: Sequence[LoadWindow], probes: Sequence[ProbeSecond], reverted: float,
                 run_end: float, th: Thresholds, window_s: float) -> float | None:
    n = math.ceil(run_end - reverted)
    if n <= 0:
        return None
    ok2 = [0] * n
    bad = [0] * n
    r429 = [0] * n
    ended = [0] * n
    avail = [0] * n
    probed = [0] * n
    for w in windows:
        k = int(window_instant(w.start, w.end) - reverted)
        if 0 <= k < n and window_instant(w.start, w.end) >= reverted:
            ok2[k] += w.counts.get("2xx", 0)
            bad[k] += server_failures(w.counts)
            r429[k] += w.counts.get("429", 0)
            ended[k] += sum(w.counts.values())
    for p in probes:
        k = int(p.t - reverted)
        if p.t >= reverted and k < n and p.available is not None:
            probed[k] += 1
            avail[k] += int(p.available)
    width = max(1, round(window_s))
    last_bad = -1
    seen_data = False
    for k in range(n):
        lo = max(0, k - width + 1)
        e, pr = sum(ended[lo:k + 1]), sum(probed[lo:k + 1])
        if e == 0 and pr == 0:
            continue
        seen_data = True
        out = False
        if e:
            out = (not at_least(sum(ok2[lo:k + 1]), e, th.rate_2xx.value)
                   or not at_most(sum(bad[lo:k + 1]), e, th.rate_5xx.value)
                   or not at_most(sum(r429[lo:k + 1]), e, th.rate_429.value))
        if pr and not at_least(sum(avail[lo:k + 1]), pr, th.availability.value):
            out = True
        if out:
            last_bad = k
    if not seen_data or last_bad == n - 1:
        return None
    return float(last_bad + 1)


def failover_timings(faults: Sequence[FaultRecord], failover_ids: set[str],
                     windows: Sequence[LoadWindow], samples: Sequence[Sample],
                     probes: Sequence[ProbeSecond], run_end: float, th: Thresholds,
                     sample_interval_s: float, back_window_s: float) -> list[FailoverTiming]:
    out = []
    for f in faults:
        if f.id not in failover_ids or f.applied_at is None:
            continue
        if not _was_active(samples, f.target, f.applied_at):
            continue  # e.g. a region cut after it was drained: there was nothing to fail over
        failover_s, served_by = _failover(windows, probes, f.target, f.applied_at)
        back = None
        if f.reverted_at is not None:
            back = _back_within(windows, probes, f.reverted_at, run_end, th, back_window_s)
        out.append(FailoverTiming(
            fault_id=f.id, region=f.target, applied_at=f.applied_at, reverted_at=f.reverted_at,
            detection_s=_detection(samples, f.applied_at), detection_resolution_s=sample_interval_s,
            failover_s=failover_s, failover_resolution_s=1.0, back_within_slo_s=back,
            back_within_slo_window_s=back_window_s, served_by=served_by,
        ))
    return out
