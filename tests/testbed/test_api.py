"""The gateway and router HTTP contract, against a running testbed with real Redis and Toxiproxy."""

from __future__ import annotations

import json
import uuid
from concurrent.futures import ThreadPoolExecutor

import httpx

from tests.testbed.helpers import chat, metric
from tests.testbed_fixture import RunningTestbed


def test_chat_streams_tokens_then_done_through_router(api_testbed: RunningTestbed) -> None:
    """A valid chat answers 200 text/event-stream: token events, then [DONE], from us-east."""
    r = chat(api_testbed.base_url, subject="stream-ok")
    assert r.status == 200
    assert r.headers["content-type"].startswith("text/event-stream")
    assert r.headers["x-served-by-region"] == "us-east"
    assert r.headers["x-provider-route"] == "primary"
    assert r.events[-1] == "[DONE]"
    tokens = [json.loads(e)["token"] for e in r.events[:-1]]
    assert len(tokens) == api_testbed.config.provider.tokens
    assert all(tokens)


def test_wrong_content_type_is_415(api_testbed: RunningTestbed) -> None:
    r = chat(api_testbed.base_url, subject="ctype", content_type="text/plain")
    assert (r.status, r.error) == (415, "unsupported_media_type")
    assert r.headers["x-served-by-region"] == "us-east"


def test_missing_or_malformed_token_is_401_invalid_token(api_testbed: RunningTestbed) -> None:
    for token in ("", "Bearer nope", "Bearer tb-", "Basic tb-alice", "Bearer tb-" + "x" * 65,
                  "Bearer tb-a b"):
        r = chat(api_testbed.base_url, token=token)
        assert (r.status, r.error) == (401, "invalid_token"), token


def test_whoami_names_the_subject_and_rejects_missing_token(api_testbed: RunningTestbed) -> None:
    url = f"{api_testbed.base_url}/api/auth/whoami"
    gw = f"{api_testbed.gateway_url('us-east')}/auth/whoami"
    ok = httpx.get(gw, headers={"authorization": "Bearer tb-carol.1"}, timeout=5)
    assert ok.status_code == 200
    assert ok.json()["subject"] == "carol.1"
    assert httpx.get(gw, timeout=5).status_code == 401
    assert httpx.get(gw, timeout=5).json()["error"] == "invalid_token"
    # /api/* paths other than chat are forwarded but unknown to the gateway: 404, not a 5xx.
    assert httpx.get(url, timeout=5).status_code == 404


def test_health_endpoints_are_ok_on_every_component(api_testbed: RunningTestbed) -> None:
    """Router /health, gateway /health and /db/health (Redis ping) all answer 200."""
    assert httpx.get(f"{api_testbed.base_url}/health", timeout=5).status_code == 200
    for region in ("us-east", "us-west"):
        gw = api_testbed.gateway_url(region)
        health = httpx.get(f"{gw}/health", timeout=5)
        assert health.status_code == 200, health.text
        assert health.json()["redis"] == "ok"
        db = httpx.get(f"{gw}/db/health", timeout=5)
        assert db.status_code == 200
        assert db.json()["redis"] == "ok"


def test_requests_past_the_subject_limit_are_429_rate_limited_with_retry_after(
    api_testbed: RunningTestbed,
) -> None:
    """Limit 5 per 10 s sliding window: of 8 back-to-back requests from one subject the first 5
    are served and the rest get 429 rate_limited with a Retry-After of 1..10 s; another subject is
    still served."""
    subject = f"burst-{uuid.uuid4().hex[:8]}"
    results = [chat(api_testbed.base_url, subject=subject) for _ in range(8)]
    assert [r.status for r in results] == [200] * 5 + [429] * 3
    assert all(r.error == "rate_limited" for r in results[5:])
    assert all(1 <= int(r.headers["retry-after"]) <= 10 for r in results[5:])
    assert chat(api_testbed.base_url, subject=f"other-{uuid.uuid4().hex[:8]}").status == 200


def test_concurrent_burst_from_one_subject_gets_some_429_and_no_5xx(
    api_testbed: RunningTestbed,
) -> None:
    """The release drill's burst: 8 concurrent requests of one subject, some 429, never a 5xx."""
    subject = f"burst-{uuid.uuid4().hex[:8]}"
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda _: chat(api_testbed.base_url, subject=subject), range(8)))
    statuses = sorted(r.status for r in results)
    assert 429 in statuses
    assert all(s in (200, 429) for s in statuses), statuses
    assert {r.error for r in results if r.status == 429} <= {"rate_limited", "overloaded"}


def test_global_concurrency_cap_answers_429_overloaded(api_testbed: RunningTestbed) -> None:
    """Cap 4: with streams held open (1 s latency on the provider links), 8 concurrent requests
    from different subjects get some 429 overloaded with Retry-After, and no 5xx."""
    api = api_testbed.state.toxiproxy_api
    toxic = {"name": "slow", "type": "latency", "stream": "downstream", "attributes": {"latency": 1000}}
    try:
        for proxy in ("us-east-primary", "us-east-fallback"):
            httpx.post(f"{api}/proxies/{proxy}/toxics", json=toxic, timeout=5).raise_for_status()
        with ThreadPoolExecutor(8) as pool:
            results = list(pool.map(
                lambda i: chat(api_testbed.base_url, subject=f"cap-{i}-{uuid.uuid4().hex[:6]}"),
                range(8)))
    finally:
        for proxy in ("us-east-primary", "us-east-fallback"):
            httpx.delete(f"{api}/proxies/{proxy}/toxics/slow", timeout=5)
    overloaded = [r for r in results if r.status == 429]
    assert overloaded, [r.status for r in results]
    assert all(r.error == "overloaded" and "retry-after" in r.headers for r in overloaded)
    assert all(r.status in (200, 429) for r in results), [r.status for r in results]
    assert [r.status for r in results].count(200) >= 1


def test_metrics_expose_the_documented_names(api_testbed: RunningTestbed) -> None:
    chat(api_testbed.base_url, subject="metrics")
    gw = api_testbed.gateway_url("us-east")
    assert metric(gw, "chat_requests_total", code="ok") >= 1
    assert metric(gw, "provider_circuit_state", route="primary") == 0
    assert metric(gw, "queue_oldest_job_age_seconds") == 0
    assert metric(gw, "queue_depth") == 0
    assert metric(gw, "redis_up") == 1
    router = api_testbed.base_url
    assert metric(router, "router_active_region", region="us-east") == 1
    assert metric(router, "router_active_region", region="us-west") == 0
    assert metric(router, "router_failovers_total") == 0
    assert metric(router, "chat_requests_total", code="ok") >= 1


def test_no_log_line_contains_the_message_text(api_testbed: RunningTestbed) -> None:
    """A unique marker sent on success, 415, 401 and 429 paths appears in no log file, while
    each request's log line carries the required privacy-safe fields."""
    marker = f"SECRET-MARKER-{uuid.uuid4().hex}"
    subject = f"priv-{uuid.uuid4().hex[:8]}"
    statuses = {chat(api_testbed.base_url, subject=subject, message=marker).status for _ in range(7)}
    statuses.add(chat(api_testbed.base_url, subject=subject, message=marker,
                      content_type="text/plain").status)
    statuses.add(chat(api_testbed.base_url, message=marker, token="Bearer bad").status)
    assert {200, 429, 415, 401} <= statuses
    files = sorted(p for p in api_testbed.log_dir.iterdir() if p.is_file())
    assert files
    for path in files:
        assert marker not in path.read_text("utf-8", errors="replace"), path
    lines = [json.loads(line) for line in
             (api_testbed.log_dir / "gateway-us-east.log").read_text().splitlines()]
    assert lines
    for record in lines:
        for field in ("request_id", "hashed_subject", "waf_decision", "plan_decision",
                      "latency_ms", "status", "code"):
            assert field in record, (field, record)
        assert subject not in json.dumps(record)
