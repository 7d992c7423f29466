"""When requests are due: the closed model's stream start/stop offsets and the open model's
arrival instants, as offsets in seconds from the load start (pure functions)."""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Iterator
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Ramp:
    ramp_up_s: float
    hold_s: float
    ramp_down_s: float

    @property
    def duration_s(self) -> float:
        return self.ramp_up_s + self.hold_s + self.ramp_down_s


def stream_window(ramp: Ramp, index: int, streams: int) -> tuple[float, float]:
    """Closed model: (start, stop) offsets of stream `index` of `streams`.

    Streams start linearly over the ramp-up and stop linearly over the ramp-down (the
    last started stops first); a stream starts no request at or after its stop offset.
    """
    start = ramp.ramp_up_s * index / streams
    stop = ramp.ramp_up_s + ramp.hold_s + ramp.ramp_down_s * (streams - index) / streams
    return start, stop


def arrivals(ramp: Ramp, rate_per_s: float, phase: float = 0.0) -> Iterator[float]:
    """Open model: intended arrival offsets for a rate ramped linearly 0 -> rate -> 0.

    Arrival i happens when the cumulative expected arrivals reach `i + phase`; `phase`
    in [0, 1) interleaves several workers that each carry a share of the rate.
    """
    r, up, hold, down = rate_per_s, ramp.ramp_up_s, ramp.hold_s, ramp.ramp_down_s
    if r <= 0:
        return
    a_up = r * up / 2.0
    a_hold = a_up + r * hold
    a_down = a_hold + r * down / 2.0
    i = 0
    while True:
        a = i + phase
        if a < a_up:
            yield math.sqrt(2.0 * up * a / r)
        elif a < a_hold:
            yield up + (a - a_up) / r
        elif a < a_down:
            x = down * (1.0 - math.sqrt(max(0.0, 1.0 - 2.0 * (a - a_hold) / (r * down))))
            yield up + hold + x
        else:
            return
        i += 1


def expected_arrivals(ramp: Ramp, rate_per_s: float) -> float:
    """The expected number of open-model arrivals over the whole ramp."""
    return rate_per_s * (ramp.ramp_up_s / 2.0 + ramp.hold_s + ramp.ramp_down_s / 2.0)


class WindowEdges:
    """Where windows start and end, in seconds after the load start: every whole second,
    and every cut (a phase boundary: a fault applied or reverted), so that no window
    straddles a phase boundary and each outcome is booked in the phase it happened in.

    Window k covers [edge(k), edge(k + 1)). Cuts within 1 ms of a whole second are that
    second (no sliver windows).
    """

    __slots__ = ("_cuts", "_edges")

    def __init__(self, cuts: tuple[float, ...] = ()) -> None:
        self._cuts = sorted({c for c in cuts if c > 0 and abs(c - round(c)) > 0.001})
        self._edges = [0.0]

    def edge(self, k: int) -> float:
        edges = self._edges
        while len(edges) <= k:
            last = edges[-1]
            nxt = math.floor(last + 1e-9) + 1.0
            i = bisect_right(self._cuts, last + 1e-9)
            if i < len(self._cuts) and self._cuts[i] < nxt - 0.001:
                nxt = self._cuts[i]
            edges.append(nxt)
        return edges[k]

    def count_until(self, offset_s: float) -> int:
        """How many windows end at or before `offset_s`."""
        k = 0
        while self.edge(k + 1) <= offset_s + 1e-9:
            k += 1
        return k
