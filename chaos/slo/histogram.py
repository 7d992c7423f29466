"""Fast merging of the recording's encoded HDR histograms and their percentiles.

Decoding is the cost of evaluating a long run (one histogram per worker per second per
latency), so a window is decoded once, straight into a reused scratch array, and only its
non-zero index range is added to an accumulator (C loops of the `hdrh` package). A
histogram whose parameters differ from the recording contract takes the slow generic path.
"""

from __future__ import annotations

import base64
import ctypes
import struct
import zlib
from typing import Any

from hdrh.codec import ext_header_size, payload_header_size
from hdrh.histogram import HdrHistogram
from pyhdrh import add_array, decode  # type: ignore[import-not-found]  # C extension of hdrhistogram, no stubs

from chaos.recording import HIST_HIGHEST_US, HIST_LOWEST_US, HIST_SIGNIFICANT_DIGITS

_WORD = 8
_TEMPLATE = HdrHistogram(HIST_LOWEST_US, HIST_HIGHEST_US, HIST_SIGNIFICANT_DIGITS)
COUNTS_LEN: int = _TEMPLATE.counts_len
_CountsArray = ctypes.c_ulonglong * COUNTS_LEN


class _Scratch:
    """One zeroed decode buffer per process. Invariant: all zeros between uses."""

    def __init__(self) -> None:
        self.counts = _CountsArray()
        self.address = ctypes.addressof(self.counts)


_SCRATCH = _Scratch()


class HistogramAccumulator:
    """The sum of any number of contract histograms (us), with percentile queries."""

    __slots__ = ("_address", "_counts", "_hi", "_lo", "total")

    def __init__(self) -> None:
        self._counts = _CountsArray()
        self._address = ctypes.addressof(self._counts)
        self.total = 0
        self._lo = COUNTS_LEN  # smallest non-zero index seen
        self._hi = -1

    def add_encoded(self, encoded: str | bytes) -> int:
        """Add one base64 histogram (an empty string is an empty one); returns how many
        values it held."""
        if not encoded:
            return 0
        raw = base64.b64decode(encoded)
        payload = zlib.decompress(raw[ext_header_size:])
        if not _matches_contract(payload):
            return self._add_generic(encoded)
        result: dict[str, int] = decode(payload, payload_header_size, _SCRATCH.address, COUNTS_LEN, _WORD)
        total = int(result["total"])
        if total == 0:
            return 0
        lo, hi = int(result["min_nonzero_index"]), int(result["max_nonzero_index"])
        length = hi - lo + 1
        offset = _WORD * lo
        add_array(self._address + offset, _SCRATCH.address + offset, length, _WORD)
        ctypes.memset(_SCRATCH.address + offset, 0, _WORD * length)
        self._note(lo, hi, total)
        return total

    def add(self, other: HistogramAccumulator) -> None:
        if other.total == 0:
            return
        lo, hi = other._lo, other._hi
        offset = _WORD * lo
        add_array(self._address + offset, other._address + offset, hi - lo + 1, _WORD)
        self._note(lo, hi, other.total)

    def without(self, part: HistogramAccumulator) -> HistogramAccumulator:
        """A new accumulator holding this one's values minus `part`'s (`part` was added to
        this one: e.g. every window of a scope minus its saturated windows)."""
        out = HistogramAccumulator()
        if self.total == 0:
            return out
        ctypes.memmove(out._address, self._address, _WORD * COUNTS_LEN)
        mine, theirs = out._counts, part._counts
        for index in range(part._lo, part._hi + 1):
            if theirs[index]:
                mine[index] -= theirs[index]
        out.total = self.total - part.total
        out._lo, out._hi = self._lo, self._hi
        return out

    def percentile_us(self, percentile: float) -> int | None:
        """HdrHistogram semantics: the highest value equivalent to the bucket holding the
        `percentile`-th value; None when empty."""
        if self.total == 0:
            return None
        target = max(int(percentile * self.total / 100.0 + 0.5), 1)
        running = 0
        counts = self._counts
        for index in range(self._lo, self._hi + 1):
            running += counts[index]
            if running >= target:
                value = _TEMPLATE.get_value_from_index(index)
                return int(_TEMPLATE.get_highest_equivalent_value(value))
        return None  # unreachable while total matches the counts

    def percentile_ms(self, percentile: float) -> float | None:
        us = self.percentile_us(percentile)
        return None if us is None else us / 1000.0

    def _note(self, lo: int, hi: int, total: int) -> None:
        self.total += total
        self._lo = min(self._lo, lo)
        self._hi = max(self._hi, hi)

    def _add_generic(self, encoded: str | bytes) -> int:
        other: Any = HdrHistogram.decode(encoded)
        added = 0
        for item in other.get_recorded_iterator():
            index = _TEMPLATE.get_counts_array_index(item.value_iterated_to)
            count = int(item.count_at_value_iterated_to)
            self._counts[index] += count
            self._note(index, index, count)
            added += count
        return added


# Payload header (big endian): cookie, payload_len, normalizing_index_offset, significant_figures
# (4 bytes each), lowest and highest trackable value (8 bytes each), conversion ratio (double).
_CONTRACT_FIELDS = struct.pack(">IQQ", HIST_SIGNIFICANT_DIGITS, HIST_LOWEST_US, HIST_HIGHEST_US)


def _matches_contract(payload: bytes) -> bool:
    return payload[12:32] == _CONTRACT_FIELDS


def encode_latencies_us(values_us: list[int] | tuple[int, ...]) -> str:
    """A contract histogram of `values_us`, base64 (used by builders and benchmarks)."""
    hist = HdrHistogram(HIST_LOWEST_US, HIST_HIGHEST_US, HIST_SIGNIFICANT_DIGITS)
    for v in values_us:
        hist.record_value(max(HIST_LOWEST_US, min(int(v), HIST_HIGHEST_US)))
    encoded: bytes = hist.encode()
    return encoded.decode("ascii")
