"""A worker's per-second accumulator of request outcomes, closed into a `LoadWindow`."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

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


def quantize_us(value_us: int) -> int:
    """The value HDR would store for `value_us` anyway (its bucket's lowest value), so a
    window can count distinct values in a dict and feed HDR once per distinct value."""
    value_us = min(max(value_us, HIST_LOWEST_US), HIST_HIGHEST_US)
    shift = value_us.bit_length() - _SUB_BUCKET_BITS
    return value_us if shift <= 0 else (value_us >> shift) << shift


class LatencyCounts:
    """Latencies of one window; encodes to an HDR histogram at window close.

    Recording is a list append (the per-request cost); `encode()` counts the values, folds
    them into HDR buckets and feeds HDR once per distinct bucket.
    """

    __slots__ = ("_values", "add", "extend")

    def __init__(self) -> None:
        self._values: list[int] = []
        self.add = self._values.append  # the hot path: no Python frame per value
        self.extend = self._values.extend

    def __len__(self) -> int:
        return len(self._values)

    def counts(self) -> dict[int, int]:
        """Count per HDR bucket (keyed by the bucket's lowest value, as `quantize_us`).

        Runs once per window on the worker's loop, over every distinct value (thousands
        at thousands of requests a second), so the quantizing is inlined."""
        values = self._values
        if values and (min(values) < HIST_LOWEST_US or max(values) > HIST_HIGHEST_US):
            values = [min(max(v, HIST_LOWEST_US), HIST_HIGHEST_US) for v in values]
        counts: dict[int, int] = {}
        for value, count in Counter(values).items():
            shift = value.bit_length() - _SUB_BUCKET_BITS
            key = value if shift <= 0 else (value >> shift) << shift
            counts[key] = counts.get(key, 0) + count
        return counts

    def encode(self) -> str:
        """The base64 HDR histogram, or "" when the window recorded no value."""
        if not self._values:
            return ""
        hist = HdrHistogram(HIST_LOWEST_US, HIST_HIGHEST_US, HIST_SIGNIFICANT_DIGITS)
        for value, count in self.counts().items():
            hist.record_value(value, count)
        encoded: bytes = hist.encode()
        # hdrh's histogram and its encoder refer to each other: break the cycle so the
        # histogram (a ~170 KB counts array) is freed now, not by a garbage collection.
        hist.encoder = None
        return encoded.decode("ascii")


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
                self.itl.extend(gaps)
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
