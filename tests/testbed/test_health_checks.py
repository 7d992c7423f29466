"""Active health checks of provider routes: a circuit past its open duration is checked with a
real request through the same Toxiproxy link and closes without user traffic; a closed circuit
is never checked; a gateway whose circuits are all open or half-open says it is unhealthy, so
the router fails back only once a circuit is closed again."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from chaos.testbed.circuit import CircuitBreaker, CircuitState
from tests.servers import wait_for
from tests.testbed.helpers import chat, metric
from tests.testbed_fixture import RunningTestbed, running_testbed

# Circuits open after 2 failures for 1 s (FAST) and need 2 good trial calls to close; routes are
# checked every 0.2 s, each check bounded at 0.5 s.
OVERRIDES = {"gateway": {"rate_limit_requests": 0, "circuit_half_open_probes": 2,
                         "health_check_interval_s": 0.2, "health_check_timeout_s": 0.5,
                         "provider_read_timeout_s": 2.0}}
SLACK_S = 3.0  # a CPU-contended machine


@pytest.fixture(scope="module")
def checked_testbed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningTestbed]:
    with running_testbed(tmp_path_factory, OVERRIDES) as tb:
        yield tb


@pytest.fixture
def tb(checked_testbed: RunningTestbed) -> Iterator[RunningTestbed]:
    """The module's testbed; after each test every proxy is enabled without toxics, every
    circuit is closed again (by the health checks) and the router is back on us-east."""
    yield checked_testbed
    httpx.post(f"{checked_testbed.state.toxiproxy_api}/reset", timeout=5).raise_for_status()
    wait_for(lambda: _all_closed(checked_testbed), 15, "every circuit closed")
    wait_for(lambda: _active_region(checked_testbed) == "us-east", 10, "router back on us-east")


def _set_proxy(tb: RunningTestbed, name: str, *, enabled: bool) -> None:
    httpx.post(f"{tb.state.toxiproxy_api}/proxies/{name}", json={"enabled": enabled},
               timeout=5).raise_for_status()


def _black_hole(tb: RunningTestbed, name: str) -> None:
    """The link accepts connections and requests but nothing comes back (until removed)."""
    toxic = {"name": "black-hole", "type": "timeout", "stream": "downstream",
             "attributes": {"timeout": 0}}
    httpx.post(f"{tb.state.toxiproxy_api}/proxies/{name}/toxics", json=toxic,
               timeout=5).raise_for_status()


def _remove_black_hole(tb: RunningTestbed, name: str) -> None:
    httpx.delete(f"{tb.state.toxiproxy_api}/proxies/{name}/toxics/black-hole",
                 timeout=5).raise_for_status()


def _subject() -> str:
    return f"s-{uuid.uuid4().hex[:10]}"


def _sum(url: str, name: str, **labels: str) -> float:
    """Like `metric`, but 0 when no such series is exposed yet."""
    text = httpx.get(f"{url}/metrics", timeout=5).text
    return sum(s.value for f in text_string_to_metric_families(text) for s in f.samples
               if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()))


def _states(tb: RunningTestbed, region: str) -> dict[str, float]:
    return {r: metric(tb.gateway_url(region), "provider_circuit_state", route=r)
            for r in tb.config.ports.providers}


def _open_circuits(tb: RunningTestbed, url: str, region: str) -> None:
    """Send chats to `url` until no circuit of `region`'s gateway is closed."""

    def none_closed() -> bool:
        chat(url, subject=_subject())
        return all(v > 0 for v in _states(tb, region).values())

    wait_for(none_closed, 10, f"no {region} circuit closed")


def _all_closed(tb: RunningTestbed) -> bool:
    return all(v == 0 for region in tb.config.ports.gateways for v in _states(tb, region).values())


def _active_region(tb: RunningTestbed) -> str:
    active: str = httpx.get(f"{tb.base_url}/admin/regions", timeout=2).json()["active_region"]
    return active


def _check_holds(condition: Callable[[], object], duration_s: float, what: str) -> None:
    """Assert `condition` at every poll for `duration_s` (an invariant, not a wait)."""
    deadline = time.monotonic() + duration_s
    while time.monotonic() < deadline:
        assert condition(), what
        time.sleep(0.05)


def _recovery_bound_s(tb: RunningTestbed) -> float:
    """Open duration, then one check per trial success (interval + its timeout at most)."""
    g = tb.config.gateway
    return (g.circuit_open_duration_s
            + g.circuit_half_open_probes * (g.health_check_interval_s + g.health_check_timeout_s)
            + SLACK_S)


class FakeClock:
    def __init__(self) -> None:
        self.now_s = 100.0

    def __call__(self) -> float:
        return self.now_s


def test_allow_check_only_past_the_open_duration_and_it_takes_a_trial_slot() -> None:
    clock = FakeClock()
    b = CircuitBreaker("primary", failure_threshold=1, open_duration_s=5, half_open_probes=1,
                       clock=clock)
    assert not b.allow_check(), "closed: user traffic is the signal"
    b.record_failure()
    assert not b.allow_check(), "open, before its open duration"
    clock.now_s += 5
    assert b.allow_check()
    assert b.state is CircuitState.HALF_OPEN
    assert not b.allow(), "the check holds the only trial slot"
    assert not b.allow_check()
    b.record_success()
    assert b.state is CircuitState.CLOSED


def test_circuit_closes_without_user_traffic_once_the_link_is_back(tb: RunningTestbed) -> None:
    """Cut us-west-primary until its circuit opens (requests served by the fallback), restore
    it, send nothing: the health checks close the circuit within the open duration plus one
    check per half-open success."""
    gw = tb.gateway_url("us-west")
    checks_ok = metric(gw, "provider_health_checks_total", route="primary", result="success")
    _set_proxy(tb, "us-west-primary", enabled=False)
    try:
        for _ in range(tb.config.gateway.circuit_failure_threshold):
            r = chat(gw, subject=_subject())
            assert (r.status, r.headers["x-provider-route"]) == (200, "fallback")
        assert metric(gw, "provider_circuit_state", route="primary") == 1
    finally:
        _set_proxy(tb, "us-west-primary", enabled=True)
    requests = metric(gw, "chat_requests_total")
    t0 = time.monotonic()
    wait_for(lambda: metric(gw, "provider_circuit_state", route="primary") == 0,
             _recovery_bound_s(tb), "primary circuit closed without traffic")
    assert time.monotonic() - t0 >= tb.config.gateway.circuit_open_duration_s * 0.5
    assert metric(gw, "chat_requests_total") == requests, "no user request closed it"
    assert (metric(gw, "provider_health_checks_total", route="primary", result="success")
            >= checks_ok + tb.config.gateway.circuit_half_open_probes)
    assert metric(gw, "provider_circuit_transitions_total", route="primary", to="closed") >= 1
    assert chat(gw, subject=_subject()).headers["x-provider-route"] == "primary"


def test_cut_links_keep_circuits_open_and_the_gateway_unhealthy(tb: RunningTestbed) -> None:
    """With one route cut and its circuit open the gateway is healthy (the other is closed);
    with both cut and open, it stays unhealthy and no circuit closes while the health checks
    keep failing."""
    gw = tb.gateway_url("us-west")
    _set_proxy(tb, "us-west-primary", enabled=False)
    for _ in range(tb.config.gateway.circuit_failure_threshold):
        assert chat(gw, subject=_subject()).status == 200
    assert metric(gw, "provider_circuit_state", route="primary") == 1
    assert httpx.get(f"{gw}/health", timeout=5).status_code == 200

    _set_proxy(tb, "us-west-fallback", enabled=False)
    _open_circuits(tb, gw, "us-west")
    assert chat(gw, subject=_subject()).error == "provider_unavailable"
    failures = {r: metric(gw, "provider_health_checks_total", route=r, result="failure")
                for r in ("primary", "fallback")}

    def unhealthy_and_not_closed() -> bool:
        health = httpx.get(f"{gw}/health", timeout=5)
        return (health.status_code == 503 and "closed" not in health.json()["circuits"].values()
                and all(v > 0 for v in _states(tb, "us-west").values()))

    _check_holds(unhealthy_and_not_closed, 2 * tb.config.gateway.circuit_open_duration_s + 1.0,
                 "us-west unhealthy with no circuit closed while both links are cut")
    for route, before in failures.items():
        after = metric(gw, "provider_health_checks_total", route=route, result="failure")
        assert after >= before + 1, f"{route} checked (and failing) while cut"


def test_half_open_circuits_keep_the_router_away_until_checks_close_them(
    tb: RunningTestbed,
) -> None:
    """Both us-east routes cut until the router fails over; then the links take requests but
    answer nothing, so the circuits sit half-open during each check: us-east stays unhealthy
    and the router stays on us-west. Once the links answer again, with no user traffic, the
    checks close the circuits and the router fails back after failback_after checks."""
    east = tb.gateway_url("us-east")
    links = ("us-east-primary", "us-east-fallback")
    for link in links:
        _set_proxy(tb, link, enabled=False)
    _open_circuits(tb, tb.base_url, "us-east")
    wait_for(lambda: _active_region(tb) == "us-west", 10, "router failed over to us-west")
    for link in links:
        _black_hole(tb, link)
        _set_proxy(tb, link, enabled=True)

    seen_half_open: list[bool] = []

    def east_unhealthy_and_router_away() -> bool:
        health = httpx.get(f"{east}/health", timeout=5)
        seen_half_open.append("half_open" in health.json()["circuits"].values())
        return health.status_code == 503 and _active_region(tb) == "us-west"

    g = tb.config.gateway
    _check_holds(east_unhealthy_and_router_away,
                 2 * (g.circuit_open_duration_s + g.health_check_timeout_s) + 1.0,
                 "us-east unhealthy and the router on us-west while its circuits are not closed")
    assert any(seen_half_open), "a check held a circuit half-open"
    assert metric(east, "provider_health_checks_total", result="failure") >= 2

    requests = metric(east, "chat_requests_total")
    for link in links:
        _remove_black_hole(tb, link)
    r = tb.config.router
    bound_s = (_recovery_bound_s(tb) + g.health_check_timeout_s
               + (r.failback_after + 1) * r.health_interval_s)
    wait_for(lambda: _active_region(tb) == "us-east", bound_s, "router failed back to us-east")
    assert "closed" in httpx.get(f"{east}/health", timeout=5).json()["circuits"].values()
    assert metric(east, "chat_requests_total") == requests, "no user request reached us-east"
    assert chat(tb.base_url, subject=_subject()).headers["x-served-by-region"] == "us-east"


def test_no_health_checks_while_circuits_are_closed(tb: RunningTestbed) -> None:
    """Closed circuits, with and without user traffic: no check is counted, and the providers
    receive no request but the users' ones."""
    wait_for(lambda: _all_closed(tb), 15, "every circuit closed")
    for region in tb.config.ports.gateways:
        assert chat(tb.gateway_url(region), subject=_subject()).status == 200
    gateways = [tb.gateway_url(r) for r in tb.config.ports.gateways]
    providers = [tb.provider_url(r) for r in tb.config.ports.providers]
    checks = [_sum(g, "provider_health_checks_total") for g in gateways]
    sent = [_sum(p, "provider_requests_total") for p in providers]

    def nothing_sent() -> bool:
        return ([_sum(g, "provider_health_checks_total") for g in gateways] == checks
                and [_sum(p, "provider_requests_total") for p in providers] == sent
                and _all_closed(tb))

    _check_holds(nothing_sent, 10 * tb.config.gateway.health_check_interval_s,
                 "no health check while every circuit is closed")
    assert chat(tb.gateway_url("us-east"), subject=_subject()).status == 200
    assert [_sum(g, "provider_health_checks_total") for g in gateways] == checks
