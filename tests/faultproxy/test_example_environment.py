"""environments/openai-gateway.example.yaml parses, and its HTTP-level modes resolve to the
fault proxies' switches."""

from __future__ import annotations

from pathlib import Path

import pytest

from chaos.faults import resolve_fault
from chaos.spec.faults import ProviderOutageFault
from chaos.spec.loader import load_environment

EXAMPLE = Path(__file__).resolve().parents[2] / "environments" / "openai-gateway.example.yaml"


@pytest.mark.parametrize(("route", "port"), [("openai", 19001), ("anthropic", 19002)])
def test_the_example_points_each_route_at_its_fault_proxy(monkeypatch: pytest.MonkeyPatch,
                                                          route: str, port: int) -> None:
    monkeypatch.setenv("GATEWAY_KEY", "sk-example")
    env = load_environment(EXAMPLE)
    fault = ProviderOutageFault.model_validate(
        {"id": "f", "scenario": "provider_outage", "target": route, "at": "10s", "for": "30s",
         "mode": "stream_error", "after_chunks": 2, "toxicity": "20%"})
    [primitive] = resolve_fault(fault, env)
    assert primitive.kind == "http"
    assert primitive.params["apply"]["url"] == f"http://127.0.0.1:{port}/__chaos/fault"
    tcp = ProviderOutageFault.model_validate(
        {"id": "g", "scenario": "provider_outage", "target": route, "at": "10s", "for": "30s",
         "mode": "down"})
    assert [p.target for p in resolve_fault(tcp, env)] == [f"gw-{route}"]
