"""AbortMonitor: a condition fires only after holding continuously for its duration."""

from __future__ import annotations

import pytest

from chaos.recording import ProbeSecond, Sample
from chaos.slo import AbortCondition, AbortMonitor
from tests.slo.builders import T0, RecordingBuilder


def _feed_rate(monitor: AbortMonitor, bad_seconds: int, total: int = 30) -> float | None:
    b = RecordingBuilder(workers=("w0", "w1"))
    b.traffic(0, 5, {"2xx": 100}).traffic(5, 5 + bad_seconds, {"2xx": 80, "5xx": 20})
    b.traffic(5 + bad_seconds, total, {"2xx": 100})
    for w in b.windows:
        monitor.feed(w)
        fired = monitor.check(now=w.end + 0.5)
        if fired:
            return fired.held_s
    fired = monitor.check(now=T0 + total + 5)
    return fired.held_s if fired else None


@pytest.mark.parametrize(("bad_seconds", "fires"), [(9, False), (10, True)])
def test_rate_condition_must_hold_for_its_duration(bad_seconds: int, fires: bool) -> None:
    monitor = AbortMonitor([AbortCondition("5xx-storm", "rate_5xx", above=0.1, for_s=10)])
    held = _feed_rate(monitor, bad_seconds)
    assert (held is not None) is fires
    if fires:
        assert held == 10.0


def test_late_window_for_a_settled_second_is_counted_not_judged() -> None:
    monitor = AbortMonitor([AbortCondition("c", "rate_5xx", above=0.1)])
    b = RecordingBuilder().traffic(0, 1, {"5xx": 10})
    monitor.check(now=T0 + 10)
    monitor.feed(b.windows[0])
    assert monitor.check(now=T0 + 11) is None
    assert monitor.statistics().late_windows == 1


def test_circuit_state_condition_on_samples_with_gaps_not_breaking_the_streak() -> None:
    monitor = AbortMonitor([AbortCondition("open", "circuit_state", above=0.5, for_s=5,
                                           labels={"route": "primary"})])
    values: list[float | None] = [1.0, 1.0, None, 1.0, 1.0]
    for i, v in enumerate(values):
        monitor.feed(Sample(T0 + i, "circuit_state", {"route": "primary"}, v))
    fired = monitor.check(now=T0 + 5)
    assert fired is not None
    assert (fired.since, fired.held_s) == (T0, 5.0)


def test_other_route_does_not_trigger() -> None:
    monitor = AbortMonitor([AbortCondition("open", "circuit_state", above=0.5, labels={"route": "primary"})])
    monitor.feed(Sample(T0, "circuit_state", {"route": "fallback"}, 1.0))
    assert monitor.check(now=T0 + 1) is None


def test_availability_below_with_recovery_resetting_the_streak() -> None:
    monitor = AbortMonitor([AbortCondition("down", "availability", below=0.5, for_s=3)])
    for i, ok in enumerate([False, False, True, False, False]):
        monitor.feed(ProbeSecond(T0 + i, True, ok))
    assert monitor.check(now=T0 + 5) is None
    monitor.feed(ProbeSecond(T0 + 5, True, False))
    fired = monitor.check(now=T0 + 6)
    assert fired is not None
    assert fired.since == T0 + 3


def test_p95_condition_uses_merged_worker_histograms() -> None:
    monitor = AbortMonitor([AbortCondition("slow", "p95_first_token_ms", above=2000, for_s=2)])
    b = RecordingBuilder(workers=("w0", "w1")).traffic(0, 3, {"2xx": 100}, first_token_ms=3000)
    for w in b.windows:
        monitor.feed(w)
    fired = monitor.check(now=T0 + 10)
    assert fired is not None
    assert fired.value == pytest.approx(3000, rel=0.01)


def test_condition_needs_exactly_one_bound() -> None:
    with pytest.raises(ValueError, match="exactly one"):
        AbortCondition("x", "rate_5xx")
