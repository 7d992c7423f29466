"""A window's latency counts encode to the same HDR histogram as recording every value."""

from __future__ import annotations

import random
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from hdrh.histogram import HdrHistogram
from hypothesis import given, settings
from hypothesis import strategies as st

from chaos.load import window
from chaos.load.window import _SUB_BUCKET_BITS, LatencyCounts
from chaos.recording import HIST_HIGHEST_US, HIST_LOWEST_US, HIST_SIGNIFICANT_DIGITS

_values = st.lists(st.one_of(
    st.integers(-10, 5_000),  # below and inside the exact range (and under the lowest value)
    st.integers(190_000, 210_000),  # a first event after 200 ms
    st.integers(0, 2 * HIST_HIGHEST_US),  # anything, past the highest value too
), max_size=200)


_TALLIES = [pytest.param(None, id="python")]
if window._compiled_tally is not None:
    _TALLIES.append(pytest.param(window._compiled_tally, id="compiled"))


@contextmanager
def _tallied_by(tally: object) -> Iterator[None]:
    saved = window._hdr_tally
    window._hdr_tally = tally  # type: ignore[assignment]
    try:
        yield
    finally:
        window._hdr_tally = saved


def test_the_compiled_tally_is_built_and_used() -> None:
    """Built with the compiled reader (test_the_compiled_fast_path_is_built); without it a
    window close at 40,000 requests a second stalls the worker's loop about 12 ms."""
    assert window._compiled_tally is not None
    assert window._hdr_tally is window._compiled_tally


@pytest.mark.parametrize("tally", _TALLIES)
@settings(max_examples=80, deadline=None)
@given(values=_values, many=st.lists(_values, max_size=4))
def test_counts_encode_like_recording_each_value_into_hdr(
    tally: object, values: list[int], many: list[list[int]],
) -> None:
    """One at a time (`add`, counted at close: compiled or in Python) and many at a time
    (`add_many`, counted per bucket as they come), the window encodes what HDR holds after
    recording every value."""
    with _tallied_by(tally):
        _check_encoding(values, many)


def test_the_compiled_and_python_tallies_encode_the_same_bytes() -> None:
    """Large windows of values over the whole range and past it (negative, huge): the same
    histogram, byte for byte, either way."""
    rng = random.Random(7)
    for size in (1, 10, 5_000, 40_000):
        values = [rng.choice((rng.randint(-5, 3_000), int(rng.lognormvariate(8, 1.5)),
                              rng.randint(0, 2**70))) for _ in range(size)]
        encoded = []
        for tally in (None, window._compiled_tally):
            counts = LatencyCounts()
            counts.extend(values)
            counts.add_many(values[: size // 3])
            with _tallied_by(tally):
                encoded.append(counts.encode())
        assert encoded[0] == encoded[1]
        assert HdrHistogram.decode(encoded[1]).get_total_count() == size + size // 3


def _check_encoding(values: list[int], many: list[list[int]]) -> None:
    counts = LatencyCounts()
    reference = HdrHistogram(HIST_LOWEST_US, HIST_HIGHEST_US, HIST_SIGNIFICANT_DIGITS)
    for value in values:
        counts.add(value)
        reference.record_value(min(max(value, HIST_LOWEST_US), HIST_HIGHEST_US))
    for batch in many:
        counts.add_many(batch)
        for value in batch:
            reference.record_value(min(max(value, HIST_LOWEST_US), HIST_HIGHEST_US))
    values = values + [v for batch in many for v in batch]
    encoded = counts.encode()
    if not values:
        assert encoded == ""  # a window without a value ships no histogram
        return
    decoded = HdrHistogram.decode(encoded)
    assert len(counts) == len(values) == decoded.get_total_count()
    for percentile in (0, 1, 50, 90, 99, 99.9, 100):
        assert decoded.get_value_at_percentile(percentile) == reference.get_value_at_percentile(percentile)
    assert list(_recorded(decoded)) == list(_recorded(reference))


def test_the_hdr_geometry_encode_adds_counts_into() -> None:
    """`encode` puts each count in its bucket with HDR's index arithmetic for this geometry."""
    hist = HdrHistogram(HIST_LOWEST_US, HIST_HIGHEST_US, HIST_SIGNIFICANT_DIGITS)
    assert (hist.unit_magnitude, hist.sub_bucket_half_count) == (0, 1 << (_SUB_BUCKET_BITS - 1))
    for value in (1, 2047, 2048, 2049, 4097, 200_123, HIST_HIGHEST_US):
        counts = LatencyCounts()
        counts.add(value)
        decoded = HdrHistogram.decode(counts.encode())
        assert decoded.get_total_count() == 1
        assert decoded.get_value_at_percentile(100) == hist.get_highest_equivalent_value(value)


def _recorded(hist: HdrHistogram) -> list[tuple[int, int]]:
    return [(item.value_iterated_to, item.count_at_value_iterated_to) for item in hist.get_recorded_iterator()]


def test_encoding_leaves_no_cyclic_garbage() -> None:
    """hdrh's histogram and encoder refer to each other; left as is, every window left two
    ~170 KB counts arrays for the garbage collector (the worker paces its collector)."""
    import gc

    def histograms() -> int:
        return sum(1 for o in gc.get_objects() if type(o).__name__ in ("HdrHistogram", "HdrPayload"))

    gc.collect()
    gc.disable()
    try:
        before = histograms()
        for _ in range(20):
            counts = LatencyCounts()
            counts.add(1_000)
            counts.add(250_000)
            counts.encode()
        assert histograms() == before
    finally:
        gc.enable()
