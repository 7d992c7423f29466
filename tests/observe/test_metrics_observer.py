"""MetricsObserver against real HTTP endpoints served by the test."""

from __future__ import annotations

import time

import anyio
import pytest

from chaos.observe import MetricsObserver, ObserverConfig, SelectorError, parse_selector
from chaos.recording import Sample
from tests.observe.http_servers import Target, make_testbed_metrics, serve
from tests.servers import free_port


def _sample_once(config: ObserverConfig, clock_value: float = 1000.0) -> tuple[list[Sample], MetricsObserver]:
    out: list[Sample] = []
    observer = MetricsObserver(config, out.append, clock=lambda: clock_value)
    anyio.run(observer.sample_once)
    return out, observer


def _by_metric(samples: list[Sample]) -> dict[str, list[Sample]]:
    grouped: dict[str, list[Sample]] = {}
    for s in samples:
        grouped.setdefault(s.metric, []).append(s)
    return grouped


def test_scrape_maps_testbed_metrics_to_logical_series_with_one_timestamp() -> None:
    target = Target()
    m = make_testbed_metrics(target.registry)
    m["circuit"].labels(route="primary").set(1)
    m["circuit"].labels(route="fallback").set(0)
    m["queue_age"].set(12.5)
    m["region"].labels(region="us-east").set(0)
    m["region"].labels(region="us-west").set(1)
    m["failovers"].inc(2)
    m["requests"].labels(code="redis_unavailable").inc(3)
    m["requests"].labels(code="ok").inc(100)
    with serve(target) as base:
        samples, observer = _sample_once(ObserverConfig(scrape_urls=(f"{base}/metrics",)))
    got = _by_metric(samples)
    assert {s.t for s in samples} == {1000.0}
    assert {(s.labels["route"], s.value) for s in got["circuit_state"]} == {("primary", 1.0), ("fallback", 0.0)}
    assert [s.value for s in got["queue_oldest_age_s"]] == [12.5]
    assert {(s.labels["region"], s.value) for s in got["active_region"]} == {("us-east", 0.0), ("us-west", 1.0)}
    assert [s.value for s in got["failovers_total"]] == [2.0]
    assert [(s.labels, s.value) for s in got["hard_failures"]] == [({"code": "redis_unavailable"}, 3.0)]
    assert observer.statistics().source_failures == 0


@pytest.mark.parametrize("failure", ["hang", "broken", "refused"])
def test_failed_scrape_is_a_gap_for_every_series_never_a_zero(failure: str) -> None:
    """A scrape that times out, an HTTP 500 and a refused port: every series seen from that
    source becomes None at the failed tick."""
    target = Target()
    m = make_testbed_metrics(target.registry)
    m["circuit"].labels(route="primary").set(0)
    m["queue_age"].set(3)
    out: list[Sample] = []
    now = [1.0]
    queries = {"circuit_state": "provider_circuit_state",
               "queue_oldest_age_s": "queue_oldest_job_age_seconds"}
    with serve(target) as base:
        config = ObserverConfig(scrape_urls=(f"{base}/metrics",), timeout_s=0.3, queries=queries)
        observer = MetricsObserver(config, out.append, clock=lambda: now[0])
        anyio.run(observer.sample_once)
        now[0] = 2.0
        if failure != "refused":
            target.metrics_mode = failure
            started = time.monotonic()
            anyio.run(observer.sample_once)
            assert time.monotonic() - started < target.hang_s  # the timeout bounded the scrape
    if failure == "refused":  # the server is gone: its port refuses connections
        anyio.run(observer.sample_once)
    assert {(s.metric, tuple(s.labels.items()), s.value) for s in out if s.t == 1.0} == {
        ("circuit_state", (("route", "primary"),), 0.0),
        ("queue_oldest_age_s", (), 3.0),
    }
    assert {(s.metric, tuple(s.labels.items()), s.value) for s in out if s.t == 2.0} == {
        ("circuit_state", (("route", "primary"),), None),
        ("queue_oldest_age_s", (), None),
    }
    stats = observer.statistics()
    assert (stats.source_failures, stats.gaps) == (1, 2)
    assert stats.last_failure is not None


def test_unseen_series_of_a_failed_source_gets_a_labelless_gap() -> None:
    samples, _ = _sample_once(ObserverConfig(scrape_urls=(f"http://127.0.0.1:{free_port()}/metrics",),
                                             queries={"queue_depth": "queue_depth"}, timeout_s=0.5))
    assert [(s.metric, dict(s.labels), s.value) for s in samples] == [("queue_depth", {}, None)]


def test_series_missing_from_a_successful_scrape_is_a_gap() -> None:
    target = Target()
    make_testbed_metrics(target.registry)  # queue_depth gauge exists (0.0) but redis_up has no label set
    with serve(target) as base:
        samples, _ = _sample_once(ObserverConfig(
            scrape_urls=(f"{base}/metrics",),
            queries={"queue_depth": "queue_depth", "nothing": "no_such_metric"}))
    assert {(s.metric, s.value) for s in samples} == {("queue_depth", 0.0), ("nothing", None)}


def test_promql_instant_queries_and_a_failing_query() -> None:
    target = Target(promql={"max by (route) (provider_circuit_state)": [({"route": "primary"}, 1.0)]})
    with serve(target) as base:
        samples, observer = _sample_once(ObserverConfig(
            prometheus_url=base,
            queries={"circuit_state": "max by (route) (provider_circuit_state)",
                     "queue_oldest_age_s": "broken("}))
    assert {(s.metric, tuple(s.labels.items()), s.value) for s in samples} == {
        ("circuit_state", (("route", "primary"),), 1.0),
        ("queue_oldest_age_s", (), None),
    }
    assert observer.statistics().source_failures == 1


def test_run_samples_every_interval_until_cancelled() -> None:
    target = Target()
    make_testbed_metrics(target.registry)["queue_age"].set(1)
    out: list[Sample] = []

    async def main(base: str) -> MetricsObserver:
        three = anyio.Event()

        def emit(sample: Sample) -> None:
            out.append(sample)
            if len(out) >= 3:
                three.set()

        observer = MetricsObserver(ObserverConfig(scrape_urls=(f"{base}/metrics",), interval_s=0.05,
                                                  queries={"q": "queue_oldest_job_age_seconds"}),
                                   emit)
        with anyio.fail_after(20):
            async with anyio.create_task_group() as tg:
                tg.start_soon(observer.run)
                await three.wait()
                tg.cancel_scope.cancel()
        return observer

    with serve(target) as base:
        observer = anyio.run(main, base)
    assert len(out) >= 3
    assert all(s.value == 1.0 for s in out)
    ts = [s.t for s in out]
    assert ts == sorted(ts)
    assert len(set(ts)) == len(ts)
    assert observer.statistics().ticks >= 3


@pytest.mark.parametrize(("text", "name", "labels", "expected"), [
    ("provider_circuit_state", "provider_circuit_state", {"route": "x"}, True),
    ('chat_requests_total{code="a"}', "chat_requests_total", {"code": "a"}, True),
    ('chat_requests_total{code="a"}', "chat_requests_total", {"code": "b"}, False),
    ('{code=~"a|b"}', "anything", {"code": "b"}, True),
    ('{code=~"a|b"}', "anything", {"code": "ab"}, False),
    ('x{code!="a", route!~"p.*"}', "x", {"code": "b", "route": "fallback"}, True),
])
def test_selector_matching(text: str, name: str, labels: dict[str, str], expected: bool) -> None:
    assert parse_selector(text).matches(name, labels) is expected


@pytest.mark.parametrize("text", ["", "{}", 'x{code="a"', 'x{code=~"("}'])
def test_bad_selectors_are_rejected(text: str) -> None:
    with pytest.raises(SelectorError):
        parse_selector(text)
