"""Worker clock offsets to the coordinator, measured like NTP: the coordinator notes when it
asked and when the answer came, the worker its own time in between (pure functions and one
small tracker; no I/O)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

WINDOW_WIDTH_S = 1.0  # the widest load window: an offset beyond it books outcomes in the wrong one
RECORD_EVERY_S = 30.0  # during the run, one sample per this long goes into the evidence


@dataclass(frozen=True, slots=True)
class ClockSample:
    at: float  # coordinator wall clock, the middle of the round trip
    offset_s: float  # worker clock - coordinator clock
    rtt_s: float

    def as_tuple(self) -> tuple[float, float, float]:
        return (round(self.at, 6), round(self.offset_s, 6), round(self.rtt_s, 6))


def clock_sample(sent: float, worker_time: float, received: float) -> ClockSample:
    """One exchange: the worker read its clock somewhere between `sent` and `received`
    (coordinator clock); assuming the middle, the error is at most half the round trip."""
    middle = (sent + received) / 2.0
    return ClockSample(middle, worker_time - middle, max(0.0, received - sent))


def best_sample(samples: Iterable[ClockSample]) -> ClockSample:
    """The sample with the shortest round trip: the tightest bound on the offset."""
    return min(samples, key=lambda s: s.rtt_s)


def offset_problem(worker: str, sample: ClockSample, limit_s: float = WINDOW_WIDTH_S) -> str | None:
    """Why this worker's clock cannot be used for windows of `limit_s`, or None."""
    if sample.rtt_s / 2.0 > limit_s:
        return (f"load worker {worker}: its clock cannot be compared with the coordinator's "
                f"(round trip {sample.rtt_s:.3f} s, over twice the {limit_s:g} s window)")
    if abs(sample.offset_s) > limit_s:
        return (f"load worker {worker}: its clock is {sample.offset_s:+.3f} s off the "
                f"coordinator's, more than the {limit_s:g} s window (sync its clock, e.g. NTP)")
    return None


class ClockTrack:
    """A worker's offsets over a run: the start sample, then the best of every
    RECORD_EVERY_S (the evidence keeps these few, not every exchange)."""

    def __init__(self, start: ClockSample, every_s: float = RECORD_EVERY_S) -> None:
        self.start = start
        self._every_s = every_s
        self._kept: list[ClockSample] = [start]
        self._pending: ClockSample | None = None

    def add(self, sample: ClockSample) -> None:
        if self._pending is None or sample.rtt_s < self._pending.rtt_s:
            self._pending = sample
        if sample.at - self._kept[-1].at >= self._every_s:
            self._kept.append(self._pending)
            self._pending = None

    def samples(self) -> tuple[tuple[float, float, float], ...]:
        return tuple(s.as_tuple() for s in self._kept)

    @property
    def max_drift_s(self) -> float:
        """How far the offset moved from the one windows are shifted by."""
        return max(abs(s.offset_s - self.start.offset_s) for s in self._kept)
