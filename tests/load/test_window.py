"""A window's latency counts encode to the same HDR histogram as recording every value."""

from __future__ import annotations

from hdrh.histogram import HdrHistogram
from hypothesis import given, settings
from hypothesis import strategies as st

from chaos.load.window import LatencyCounts
from chaos.recording import HIST_HIGHEST_US, HIST_LOWEST_US, HIST_SIGNIFICANT_DIGITS

_values = st.lists(st.one_of(
    st.integers(-10, 5_000),  # below and inside the exact range (and under the lowest value)
    st.integers(190_000, 210_000),  # a first event after 200 ms
    st.integers(0, 2 * HIST_HIGHEST_US),  # anything, past the highest value too
), max_size=200)


@settings(max_examples=50, deadline=None)
@given(values=_values)
def test_counts_encode_like_recording_each_value_into_hdr(values: list[int]) -> None:
    counts = LatencyCounts()
    reference = HdrHistogram(HIST_LOWEST_US, HIST_HIGHEST_US, HIST_SIGNIFICANT_DIGITS)
    for value in values:
        counts.add(value)
        reference.record_value(min(max(value, HIST_LOWEST_US), HIST_HIGHEST_US))
    encoded = counts.encode()
    if not values:
        assert encoded == ""  # a window without a value ships no histogram
        return
    decoded = HdrHistogram.decode(encoded)
    assert len(counts) == len(values) == decoded.get_total_count()
    for percentile in (0, 1, 50, 90, 99, 99.9, 100):
        assert decoded.get_value_at_percentile(percentile) == reference.get_value_at_percentile(percentile)
    assert list(_recorded(decoded)) == list(_recorded(reference))


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
