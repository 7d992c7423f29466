"""A worker's per-second accumulator of request outcomes, closed into a `LoadWindow`."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any

from hdrh.histogram import HdrHistogram

from chaos.load.exchange import Exchange
from chaos.recording import (
    FAILED_PER_WINDOW,
    HIST_HIGHEST_US,
    HIST_LOWEST_US,
    HIST_SIGNIFICANT_DIGITS,
    STATUS_CLASSES,
    LoadWindow,
)

# 3 significant digits: HDR keeps 2048 sub-buckets per power of two, so values below 2048
# are exact and above it the resolution is 2**(bit_length - 11).
_SUB_BUCKET_BITS = 11
_SUB_BUCKET_HALF = 1 << (_SUB_BUCKET_BITS - 1)  # hdrh's sub_bucket_half_count (tests/load/test_window.py)

_Tally = Callable[[list[int], Any, int, int, int], tuple[int, int, int]]
try:  # the compiled tally (chaos/protocols/_scan.c), optional as the whole module is
    from chaos.protocols._scan import hdr_tally as _compiled_tally
except ImportError:  # pragma: no cover - built wherever a C compiler is
    _compiled_tally = None  # type: ignore[assignment]
_hdr_tally: _Tally | None = _compiled_tally


def quantize_us(value_us: int) -> int:
    """The value HDR would store for `value_us` anyway (its bucket's lowest value)."""
    value_us = min(max(value_us, HIST_LOWEST_US), HIST_HIGHEST_US)
    shift = value_us.bit_length() - _SUB_BUCKET_BITS
    return value_us if shift <= 0 else (value_us >> shift) << shift


class LatencyCounts:
    """Latencies of one window; encodes to an HDR histogram at window close.

    Recording one value is a list append (the per-request cost). Values that come many at
    a time (`add_many`: a stream's inter-token gaps, 50 000 a second at 5 000 long streams)
    are counted per HDR bucket as they come, so that closing the window does not stall the
    loop for tens of milliseconds folding them all at once (its lag is the driver's
    accuracy). `encode()` counts the rest and adds each count to its HDR bucket.
    """

    __slots__ = ("_buckets", "_values", "add", "extend")

    def __init__(self) -> None:
        self._values: list[int] = []
        self._buckets: dict[int, int] = {}  # an HDR bucket's lowest value (quantize_us) -> count
        self.add = self._values.append  # the hot path: no Python frame per value
        self.extend = self._values.extend

    def add_many(self, values: list[int]) -> None:
        buckets = self._buckets
        for value in values:
            shift = value.bit_length() - _SUB_BUCKET_BITS
            if shift > 0:
                value = (value >> shift) << shift
            buckets[value] = buckets.get(value, 0) + 1

    def __len__(self) -> int:
        return len(self._values) + sum(self._buckets.values())

    def encode(self) -> str:
        """The base64 HDR histogram, or "" when the window recorded no value.

        Runs once per window on the worker's loop (a stall there is loop lag), so it adds
        counts to their HDR buckets directly (hdrh's `record_value` is three Python calls per
        value): the bucket of a value is HDR's own index arithmetic for a lowest value of 1
        (`_SUB_BUCKET_BITS`). The values recorded one at a time are counted by the compiled
        `hdr_tally` where it is built (encoding 40,000 values: 0.35 ms, against 4.4 ms
        counted here), else distinct value by distinct value, as add_many's buckets are."""
        values, buckets = self._values, self._buckets
        if not values and not buckets:
            return ""
        hist = HdrHistogram(HIST_LOWEST_US, HIST_HIGHEST_US, HIST_SIGNIFICANT_DIGITS)
        slots = hist.counts
        total, lo, hi = 0, HIST_HIGHEST_US, HIST_LOWEST_US
        if values:
            if _hdr_tally is not None:
                total, lo, hi = _hdr_tally(values, slots, HIST_LOWEST_US, HIST_HIGHEST_US,
                                           _SUB_BUCKET_BITS)
            else:
                total, lo, hi = _add_counts(slots, Counter(values).items(), total, lo, hi)
        # add_many's buckets are already quantized: quantizing is idempotent.
        total, lo, hi = _add_counts(slots, buckets.items(), total, lo, hi)
        hist.total_count = total
        hist.min_value, hist.max_value = quantize_us(lo), quantize_us(hi)
        encoded: bytes = hist.encode()
        # hdrh's histogram and its encoder refer to each other: break the cycle so the
        # histogram (a ~170 KB counts array) is freed now, not by a garbage collection.
        hist.encoder = None
        return encoded.decode("ascii")


def _add_counts(slots: Any, counted: Iterable[tuple[int, int]], total: int, lo: int,
                hi: int) -> tuple[int, int, int]:
    """Add each (value, count) to its HDR bucket in `slots`, the value clamped as HDR's range
    says; returns the running (total, min, max)."""
    for value, count in counted:
        value = min(max(value, HIST_LOWEST_US), HIST_HIGHEST_US)
        bucket = value.bit_length() - _SUB_BUCKET_BITS
        if bucket < 0:
            bucket = 0
        slots[((bucket + 1) << (_SUB_BUCKET_BITS - 1)) + (value >> bucket) - _SUB_BUCKET_HALF] += count
        total += count
        lo, hi = min(lo, value), max(hi, value)
    return total, lo, hi


class WindowAccumulator:
    """Counts for the current window; `close()` returns the `LoadWindow` and starts anew.

    Invariant: every started request is either recorded (in `counts`) or cancelled, in
    some window of the same worker. `counts["2xx"]` is only filled in by `close()`: until
    then the 2xx requests are the `completion` latencies.
    """

    def __init__(self, run_id: str, worker_id: str, incarnation: int) -> None:
        self.run_id = run_id
        self.worker_id = worker_id
        self.incarnation = incarnation
        self.seq = 0
        # Invariant: every outcome recorded here ended before `due` (monotonic), the end of
        # the current window; an outcome at or after it first rolls the window (`roll`), so a
        # request is booked by the instant its outcome happened, not when the timer woke.
        self.due = float("inf")
        self.roll: Callable[[], None] = _never
        self.rid_name = ""  # request ids are rid_name + their number
        self.wall_offset = 0.0  # wall clock = monotonic + wall_offset
        self._clear()

    def _clear(self) -> None:
        self.started = 0
        self.counts = dict.fromkeys(STATUS_CLASSES, 0)
        self.error_codes: dict[str, int] = {}
        self.transport: dict[str, int] = {}
        self.regions: dict[str, int] = {}
        self.first_token = LatencyCounts()
        self.completion = LatencyCounts()
        self.ttfb = LatencyCounts()
        self.itl = LatencyCounts()
        self.tpot = LatencyCounts()
        self.output_tokens = 0
        self.token_sources: dict[str, int] = {}
        self.first_kinds: dict[str, int] = {}
        self.class_codes: dict[str, int] = {}
        self.failed: list[tuple[str, str, str | None, float, float]] = []
        self.failed_more = 0
        self.cancelled = 0
        self.late = 0
        self.dropped = 0
        self.events = 0
        self.bytes_received = 0

    def record(self, exchange: Exchange, start: float, rid: int = -1) -> str:
        """Count one ended request; `start` is its (intended) start, monotonic seconds, and
        `rid` the number of its request id. Latencies and token figures are of complete
        streams only; a request that did not complete goes to the ledger."""
        (_, cls, code, kind, first_byte_at, first_token_at, done_at, ended_at, tokens,
         from_usage, gaps, first_kind, events, nbytes, region, _reusable) = exchange
        while ended_at >= self.due:
            self.roll()
        if cls == "2xx":
            # The hot path: the 2xx count is the number of completions (filled in at close).
            done = ended_at if done_at is None else done_at
            self.completion.add(int((done - start) * 1e6))
            if first_byte_at is not None:
                self.ttfb.add(int((first_byte_at - start) * 1e6))
            if first_token_at is not None:
                self.first_token.add(int((first_token_at - start) * 1e6))
                kinds = self.first_kinds
                kinds[first_kind] = kinds.get(first_kind, 0) + 1  # type: ignore[index,arg-type]  # set with first_token_at
                if tokens > 1:
                    self.tpot.add(int((done - first_token_at) * 1e6 / (tokens - 1)))
            if gaps:
                self.itl.add_many(gaps)
            self.output_tokens += tokens
            source = "usage" if from_usage else "chunks"
            self.token_sources[source] = self.token_sources.get(source, 0) + 1
        else:
            self.counts[cls] += 1
            if cls == "transport" and kind is not None:
                self.transport[kind] = self.transport.get(kind, 0) + 1
            if code is not None:
                self.error_codes[code] = self.error_codes.get(code, 0) + 1
                key = f"{cls}:{code}"
                self.class_codes[key] = self.class_codes.get(key, 0) + 1
            if len(self.failed) < FAILED_PER_WINDOW:
                off = self.wall_offset
                self.failed.append((f"{self.rid_name}{rid}", cls, code, round(start + off, 4),
                                    round(ended_at + off, 4)))
            else:
                self.failed_more += 1
        if region is not None:
            self.regions[region] = self.regions.get(region, 0) + 1
        self.events += events
        self.bytes_received += nbytes
        return cls

    def close(
        self, *, start_wall: float, end_wall: float, in_flight: int, loop_lag_p99_ms: float,
        cpu_percent: float, max_lag_p99_ms: float, max_cpu_percent: float,
    ) -> LoadWindow:
        self.counts["2xx"] = len(self.completion)
        window = LoadWindow(
            run_id=self.run_id,
            worker_id=self.worker_id,
            incarnation=self.incarnation,
            seq=self.seq,
            start=start_wall,
            end=end_wall,
            started=self.started,
            counts=self.counts,
            error_codes=self.error_codes,
            transport=self.transport,
            regions=self.regions,
            first_token_hist=self.first_token.encode(),
            completion_hist=self.completion.encode(),
            ttfb_hist=self.ttfb.encode(),
            itl_hist=self.itl.encode(),
            tpot_hist=self.tpot.encode(),
            output_tokens=self.output_tokens,
            token_sources=self.token_sources,
            first_kinds=self.first_kinds,
            class_codes=self.class_codes,
            failed=tuple(self.failed),
            failed_more=self.failed_more,
            cancelled=self.cancelled,
            late=self.late,
            dropped=self.dropped,
            in_flight=in_flight,
            events=self.events,
            bytes_received=self.bytes_received,
            loop_lag_p99_ms=round(loop_lag_p99_ms, 3),
            cpu_percent=round(cpu_percent, 1),
            saturated=loop_lag_p99_ms > max_lag_p99_ms or cpu_percent > max_cpu_percent,
        )
        self.seq += 1
        self._clear()
        return window



def _never() -> None:
    raise AssertionError("a window with a due instant needs a roll callback")
