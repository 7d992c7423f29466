"""Failure behaviour of the testbed under real faults: Redis killed, provider and region links
cut in the real Toxiproxy, provider slots saturated, operator drain."""

from __future__ import annotations

import os
import signal
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from chaos.testbed import component_alive, load_state, restart_component
from tests.servers import wait_for
from tests.testbed.helpers import chat, metric
from tests.testbed_fixture import RunningTestbed


@pytest.fixture
def tb(fault_testbed: RunningTestbed) -> Iterator[RunningTestbed]:
    """The module's testbed; every proxy enabled and toxic removed after each test."""
    yield fault_testbed
    httpx.post(f"{fault_testbed.state.toxiproxy_api}/reset", timeout=5).raise_for_status()
    wait_for(lambda: httpx.get(f"{fault_testbed.base_url}/admin/regions", timeout=2)
             .json()["active_region"] == "us-east", 10, "router back on us-east")


def _set_proxy(tb: RunningTestbed, name: str, *, enabled: bool) -> None:
    httpx.post(f"{tb.state.toxiproxy_api}/proxies/{name}", json={"enabled": enabled},
               timeout=5).raise_for_status()


def _subject() -> str:
    return f"s-{uuid.uuid4().hex[:10]}"


def test_redis_killed_gives_503_redis_unavailable_in_time_then_recovers(tb: RunningTestbed) -> None:
    """SIGKILL redis-server: chat answers 503 redis_unavailable within the Redis timeout (plus
    slack for a loaded machine), /db/health and redis_up say so; after restart_component the
    service resumes."""
    state = load_state(tb.state_path)
    redis = state.components["redis"]
    os.kill(redis.pid, signal.SIGKILL)
    try:
        wait_for(lambda: not component_alive(load_state(tb.state_path), "redis"), 5, "redis dead")
        t0 = time.monotonic()
        r = chat(tb.gateway_url("us-east"), subject=_subject())
        elapsed_s = time.monotonic() - t0
        assert (r.status, r.error) == (503, "redis_unavailable")
        assert elapsed_s < tb.config.gateway.redis_timeout_s + 1.0, elapsed_s
        assert httpx.get(f"{tb.gateway_url('us-east')}/db/health", timeout=5).status_code == 503
        assert httpx.get(f"{tb.gateway_url('us-east')}/health", timeout=5).status_code == 503
        assert metric(tb.gateway_url("us-east"), "redis_up") == 0
        assert metric(tb.gateway_url("us-east"), "chat_requests_total", code="redis_unavailable") >= 1
    finally:
        new_pid = restart_component(tb.state_path, "redis")
    assert new_pid != redis.pid
    assert load_state(tb.state_path).components["redis"].pid == new_pid
    wait_for(lambda: chat(tb.base_url, subject=_subject()).status == 200, 10, "chat served again")
    for region in ("us-east", "us-west"):
        wait_for(lambda r=region: metric(tb.gateway_url(r), "redis_up") == 1, 5, f"redis_up {region}")
        wait_for(lambda r=region: chat(tb.gateway_url(r), subject=_subject()).status == 200, 5,
                 f"gateway {region} serves again")


def test_primary_link_down_opens_circuit_serves_fallback_then_closes_via_half_open(
    tb: RunningTestbed,
) -> None:
    """Disable us-east-primary: requests are still 200, served by the fallback route, the primary
    circuit metric reads 1; once the link is back the circuit goes half-open and closes."""
    gw = tb.gateway_url("us-east")
    half_open_before = metric(gw, "provider_circuit_transitions_total", route="primary", to="half_open")
    _set_proxy(tb, "us-east-primary", enabled=False)
    try:
        for _ in range(tb.config.gateway.circuit_failure_threshold + 1):
            r = chat(tb.base_url, subject=_subject())
            assert r.status == 200
            assert r.headers["x-provider-route"] == "fallback"
        assert metric(gw, "provider_circuit_state", route="primary") == 1
        assert metric(gw, "provider_circuit_state", route="fallback") == 0
    finally:
        _set_proxy(tb, "us-east-primary", enabled=True)

    def closed_again() -> bool:
        chat(tb.base_url, subject=_subject())
        return metric(gw, "provider_circuit_state", route="primary") == 0

    wait_for(closed_again, 15, "primary circuit closed")
    assert metric(gw, "provider_circuit_transitions_total", route="primary",
                  to="half_open") > half_open_before
    assert chat(tb.base_url, subject=_subject()).headers["x-provider-route"] == "primary"


def test_both_provider_links_down_gives_503_provider_unavailable(tb: RunningTestbed) -> None:
    gw = tb.gateway_url("us-west")
    for proxy in ("us-west-primary", "us-west-fallback"):
        _set_proxy(tb, proxy, enabled=False)
    codes = {chat(gw, subject=_subject()).error for _ in range(4)}
    assert codes == {"provider_unavailable"}
    assert metric(gw, "chat_requests_total", code="provider_unavailable") >= 4
    # Both circuits open: the gateway reports itself unhealthy.
    assert httpx.get(f"{gw}/health", timeout=5).status_code == 503


def test_saturated_provider_slots_grow_queue_age_then_queue_timeout(tb: RunningTestbed) -> None:
    """2 slots, 1 s bound: with the provider links slowed by 3 s, extra requests queue, the
    queue age metric grows, and requests past the bound get 503 queue_timeout."""
    gw = tb.gateway_url("us-east")
    api = tb.state.toxiproxy_api
    toxic = {"name": "slow", "type": "latency", "stream": "downstream", "attributes": {"latency": 3000}}
    for proxy in ("us-east-primary", "us-east-fallback"):
        httpx.post(f"{api}/proxies/{proxy}/toxics", json=toxic, timeout=5).raise_for_status()
    with ThreadPoolExecutor(5) as pool:
        futures = [pool.submit(chat, gw, _subject()) for _ in range(5)]
        ages: list[float] = []

        def queue_aged() -> bool:
            ages.append(metric(gw, "queue_oldest_job_age_seconds"))
            return ages[-1] >= 0.5

        wait_for(queue_aged, 5, "queue age >= 0.5 s")
        assert metric(gw, "queue_depth") >= 1
        results = [f.result() for f in futures]
    nonzero = [a for a in ages if a > 0]
    assert nonzero == sorted(nonzero), "queue age grows while the queue waits"
    codes = sorted(r.error or "ok" for r in results)
    assert codes.count("queue_timeout") == 3, codes
    assert codes.count("ok") == 2, codes


def test_gateway_link_cut_fails_over_to_us_west_and_back(tb: RunningTestbed) -> None:
    """Disable router-us-east: within failover_after checks the router serves from us-west and
    router_failovers_total increments; when the link returns it fails back to us-east."""
    before = metric(tb.base_url, "router_failovers_total")
    interval_s = tb.config.router.health_interval_s
    bound_s = (tb.config.router.failover_after + 2) * interval_s + tb.config.router.health_timeout_s
    _set_proxy(tb, "router-us-east", enabled=False)
    t0 = time.monotonic()
    wait_for(lambda: metric(tb.base_url, "router_active_region", region="us-west") == 1, 10,
             "router active region us-west")
    assert time.monotonic() - t0 < bound_s + 2.0  # slack for a CPU-contended machine
    r = chat(tb.base_url, subject=_subject())
    assert r.status == 200
    assert r.headers["x-served-by-region"] == "us-west"
    assert metric(tb.base_url, "router_failovers_total") == before + 1
    _set_proxy(tb, "router-us-east", enabled=True)
    wait_for(lambda: chat(tb.base_url, subject=_subject()).headers["x-served-by-region"] == "us-east",
             10, "fail-back to us-east")


def test_request_refused_by_the_active_region_is_resent_to_the_other_one(tb: RunningTestbed) -> None:
    """Before the health checks fail us-east over (3 checks, 1 s apart), a request whose
    connection to us-east is refused is re-sent once to us-west and streams from there;
    with both regions cut the router answers 503 gateway_unhealthy."""
    retries = metric(tb.base_url, "router_retries_total", from_region="us-east", to_region="us-west")
    _set_proxy(tb, "router-us-east", enabled=False)
    t0 = time.monotonic()
    r = chat(tb.base_url, subject=_subject())
    assert time.monotonic() - t0 < tb.config.router.failover_after * tb.config.router.health_interval_s
    assert metric(tb.base_url, "router_active_region", region="us-east") == 1  # not yet failed over
    assert r.status == 200
    assert r.headers["x-served-by-region"] == "us-west"
    assert r.events[-1] == "[DONE]"
    assert metric(tb.base_url, "router_retries_total", from_region="us-east",
                  to_region="us-west") == retries + 1
    # the router stays healthy while one region can serve, and says so when none can
    wait_for(lambda: metric(tb.base_url, "router_region_healthy", region="us-east") == 0, 10,
             "us-east's health check failing")
    assert httpx.get(f"{tb.base_url}/health", timeout=5).status_code == 200
    _set_proxy(tb, "router-us-west", enabled=False)
    both = chat(tb.base_url, subject=_subject())
    assert (both.status, both.error) == (503, "gateway_unhealthy")
    wait_for(lambda: httpx.get(f"{tb.base_url}/health", timeout=5).status_code == 503, 10,
             "router /health 503 with no region left")


def test_drain_and_undrain_move_traffic_on_command(tb: RunningTestbed) -> None:
    before = metric(tb.base_url, "router_failovers_total")
    drained = httpx.post(f"{tb.base_url}/admin/regions/us-east/drain", timeout=5)
    assert drained.status_code == 200
    assert drained.json()["active_region"] == "us-west"
    assert chat(tb.base_url, subject=_subject()).headers["x-served-by-region"] == "us-west"
    assert metric(tb.base_url, "router_failovers_total") == before + 1
    undrained = httpx.post(f"{tb.base_url}/admin/regions/us-east/undrain", timeout=5)
    assert undrained.status_code == 200
    assert undrained.json()["active_region"] == "us-east"
    assert chat(tb.base_url, subject=_subject()).headers["x-served-by-region"] == "us-east"
    assert metric(tb.base_url, "router_failovers_total") == before + 2
    assert httpx.post(f"{tb.base_url}/admin/regions/eu-north/drain", timeout=5).status_code == 404
