"""The fault proxy in front of a real streaming target: each fault kind as a client sees it,
shares with a fixed seed, and the switch applied, verified and reverted like a toxic."""

from __future__ import annotations

from pathlib import Path

import anyio
import httpx
import pytest

from chaos.faultproxy import ProxyConfig, RunningProxy, running_proxy
from chaos.faults import FaultSession
from chaos.spec.faults import ProviderOutageFault
from chaos.spec.loader import parse_environment
from tests.faultproxy.helpers import chat
from tests.protocol_target import ProtocolTarget
from tests.servers import free_port, wait_for

ROOT = Path(__file__).resolve().parents[2]


def switch(p: RunningProxy, body: dict[str, object] | None) -> dict[str, object]:
    response = (httpx.delete(p.fault_url) if body is None else httpx.post(p.fault_url, json=body))
    assert response.status_code == 200, response.text
    return dict(response.json())


def test_complete_streams_pass_through(proxy: RunningProxy, protocol: str) -> None:
    seen = chat(proxy.url, protocol)
    assert (seen.status, seen.outcome, seen.content_chunks) == (200, "2xx", 8)
    assert seen.headers["x-served-by-region"] == "us-east"  # upstream headers kept
    assert "x-chaos-fault" not in seen.headers


@pytest.mark.parametrize(("status", "outcome"), [(429, "429"), (500, "5xx"), (503, "5xx")])
def test_http_faults_answer_without_the_upstream(proxy: RunningProxy, target: ProtocolTarget,
                                                 protocol: str, status: int, outcome: str) -> None:
    switch(proxy, {"status": status, "retry_after_s": 1.5, "rate": 1.0})
    before = len(target.chat_requests())
    seen = chat(proxy.url, protocol)
    assert (seen.status, seen.outcome) == (status, outcome)
    assert seen.headers["retry-after"] == "2"
    assert len(target.chat_requests()) == before  # the provider never saw it
    error = httpx.Response(status, content=seen.body).json()
    assert ("type" in error and error["type"] == "error") if protocol == "anthropic" else "message" in error["error"]


@pytest.mark.parametrize(("kind", "outcome"), [("error", "broken"), ("truncate", "truncated"),
                                           ("stall", "stalled")])
def test_stream_faults_break_the_stream_after_n_chunks(proxy: RunningProxy, protocol: str,
                                                       kind: str, outcome: str) -> None:
    body: dict[str, object] = {"stream": kind, "after_chunks": 3}
    if kind == "error":
        body["code"] = "overloaded_error"
    switch(proxy, body)
    seen = chat(proxy.url, protocol, stall_s=1.0)
    assert (seen.status, seen.outcome, seen.content_chunks) == (200, outcome, 3)
    if kind == "error":
        assert seen.code == "overloaded_error"
        in_band = b"event: error\n" if protocol == "anthropic" else b'data: {"error"'
        assert in_band in seen.body
    assert seen.headers["x-chaos-fault"] == f"stream_{kind}"


def test_a_stalled_stream_is_released_when_its_client_leaves(proxy: RunningProxy,
                                                             protocol: str) -> None:
    switch(proxy, {"stream": "stall", "after_chunks": 1})
    assert chat(proxy.url, protocol, stall_s=0.5).outcome == "stalled"
    wait_for(lambda: proxy.app.statistics().active == 0, 10, "the proxy releasing the stream")
    assert proxy.app.statistics().switch["stream_faults"]["stall"] == 1


@pytest.mark.parametrize("protocol", ["openai"])  # the draw does not depend on the dialect
def test_shares_follow_the_rate_with_a_fixed_seed(proxy: RunningProxy, target: ProtocolTarget,
                                                  protocol: str) -> None:
    target.first_token_delay_s = target.token_interval_s = 0.0
    switch(proxy, {"status": 503, "rate": 0.3})
    with httpx.Client() as client:
        failed = sum(chat(proxy.url, protocol, client=client).status == 503 for _ in range(200))
    assert 0.2 <= failed / 200 <= 0.4
    switch(proxy, {"stream": "error", "after_chunks": 1, "rate": 0.5})
    with httpx.Client() as client:
        outcomes = [chat(proxy.url, protocol, client=client).outcome for _ in range(60)]
    assert set(outcomes) == {"2xx", "broken"}
    assert 0.3 <= outcomes.count("broken") / 60 <= 0.7
    assert proxy.app.statistics().switch["stream_faults"]["error"] == outcomes.count("broken")


def test_health_checks_and_other_paths_are_never_faulted(proxy: RunningProxy) -> None:
    switch(proxy, {"status": 503, "rate": 1.0})
    assert httpx.get(proxy.url + "/health").status_code == 200
    assert httpx.get(proxy.url + "/metrics").status_code == 200


def test_the_admin_api_refuses_bad_bodies_and_names_its_route(proxy: RunningProxy) -> None:
    response = httpx.post(proxy.fault_url, json={"stream": "explode"})
    assert response.status_code == 400
    assert "fault.stream must be one of" in response.json()["detail"]
    assert httpx.get(proxy.fault_url).json() == {"route": "primary", "fault": None}
    assert httpx.put(proxy.fault_url).status_code == 405
    assert httpx.get(proxy.url + "/__chaos/nothing").status_code == 404
    health = httpx.get(proxy.url + "/__chaos/health").json()
    assert health["status"] == "ok"
    assert health["upstream"].startswith("http://127.0.0.1:")


def test_an_unreachable_upstream_is_a_502() -> None:
    config = ProxyConfig(upstream=f"http://127.0.0.1:{free_port()}", listen_port=free_port())
    with running_proxy(config) as p:
        seen = chat(p.url)
        assert (seen.status, seen.outcome) == (502, "5xx")
        assert p.app.statistics().upstream_errors == 1


def _environment_with_switch(url: str) -> object:
    text = (ROOT / "environments" / "local.yaml").read_text("utf-8")
    text = text.replace("http://127.0.0.1:18091/admin/fault", url)
    return parse_environment(text, path="env.yaml")


@pytest.mark.parametrize("protocol", ["openai"])
@pytest.mark.parametrize(("mode", "params", "state"), [
    ("http_errors", {"status": 429, "retry_after": "2s", "toxicity": "25%"},
     {"status": 429, "retry_after_s": 2.0, "rate": 0.25}),
    ("stream_error", {"after_chunks": 2}, {"stream": "error", "after_chunks": 2, "rate": 1.0,
                                           "code": "overloaded_error"}),
    ("stream_stall", {}, {"stream": "stall", "after_chunks": 1, "rate": 1.0}),
])
def test_provider_outage_applies_verifies_and_reverts_through_the_proxy(
        proxy: RunningProxy, tmp_path: Path, mode: str, params: dict[str, object],
        state: dict[str, object]) -> None:
    """The drill's own fault session POSTs the switch (http_fault = the proxy's admin URL);
    GET shows the fault on; after the revert GET shows it cleared."""
    env = _environment_with_switch(proxy.fault_url)
    fault = ProviderOutageFault.model_validate(
        {"id": "f1", "scenario": "provider_outage", "target": "primary", "at": "0s", "for": "5s",
         "mode": mode, **params})

    async def drill() -> None:
        async with FaultSession(env, run_dir=tmp_path, run_id="r1") as session, \
                httpx.AsyncClient() as client:  # type: ignore[arg-type]
            record = await session.apply(fault)
            assert record.applied_at is not None
            assert record.error is None
            assert (await client.get(proxy.fault_url)).json() == {"route": "primary", "fault": state}
            record = await session.revert("f1")
            assert record.reverted_at is not None
            assert (await client.get(proxy.fault_url)).json() == {"route": "primary", "fault": None}

    anyio.run(drill)
