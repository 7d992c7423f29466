"""The fault switch's JSON is the testbed provider's: one parser serves both."""

from __future__ import annotations

import anyio
import httpx
import pytest

from chaos.faultproxy import FaultSwitch, HttpFault, StreamFault, parse_fault
from chaos.faults.scenarios import _switch_body
from chaos.spec.faults import ProviderOutageFault
from chaos.testbed.config import default_config
from chaos.testbed.provider import ProviderApp

BODIES = [
    {"status": 429, "retry_after_s": 2.0, "rate": 0.5},
    {"status": 503, "retry_after_s": None, "rate": 1.0},
    {"status": 500},
    {"stream": "error", "after_chunks": 3, "rate": 0.25, "code": "overloaded_error"},
    {"stream": "error"},
    {"stream": "truncate", "after_chunks": 0, "rate": 1.0},
    {"stream": "stall", "after_chunks": 2},
]
BAD = [
    [], {"status": 200}, {"status": True}, {"status": 503, "rate": 1.5}, {"status": 503, "extra": 1},
    {"stream": "explode"}, {"stream": "truncate", "code": "x"}, {"stream": "error", "code": "Bad Code"},
    {"stream": "stall", "after_chunks": -1}, {"status": 429, "retry_after_s": -1},
]


def _provider_switch(body: object) -> httpx.Response:
    """POST `body` to the testbed provider's own fault switch (its ASGI app, in process), then
    read the switch back."""
    app = ProviderApp("primary", default_config().provider)

    async def call() -> httpx.Response:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                     base_url="http://provider") as client:
            (await client.post("/admin/fault", json=body)).raise_for_status()
            return await client.get("/admin/fault")

    return anyio.run(call)


@pytest.mark.parametrize("body", BODIES)
def test_the_testbed_provider_answers_a_body_as_the_switch_normalises_it(
        body: dict[str, object]) -> None:
    """One parser serves both: the provider reads back what `parse_fault(...).to_json()` says,
    which is what the executor's read-back verification expects."""
    answer = _provider_switch(body)
    assert answer.status_code == 200
    assert answer.json()["fault"] == parse_fault(body).to_json()


@pytest.mark.parametrize("body", BAD)
def test_bad_bodies_are_refused_by_the_provider_with_the_parsers_reason(body: object) -> None:
    with pytest.raises(ValueError, match="fault") as ours:
        parse_fault(body)
    app = ProviderApp("primary", default_config().provider)

    async def post() -> httpx.Response:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                     base_url="http://provider") as client:
            return await client.post("/admin/fault", json=body)

    answer = anyio.run(post)
    assert answer.status_code == 400
    assert str(ours.value) in answer.text


@pytest.mark.parametrize(("mode", "params"), [
    ("http_errors", {"status": 429, "retry_after": "2s", "toxicity": 0.3}),
    ("http_errors", {"status": 503}),
    ("stream_error", {"after_chunks": 2, "code": "server_error"}),
    ("stream_truncate", {"toxicity": 0.5}),
    ("stream_stall", {"after_chunks": 0}),
])
def test_every_provider_outage_switch_body_parses(mode: str, params: dict[str, object]) -> None:
    """What provider_outage POSTs for its http_errors and stream_* modes is accepted."""
    fault = ProviderOutageFault.model_validate(
        {"id": "f", "scenario": "provider_outage", "target": "primary", "at": "1s", "for": "2s",
         "mode": mode, **params})
    parsed = parse_fault(_switch_body(fault))
    assert isinstance(parsed, HttpFault if mode == "http_errors" else StreamFault)


def test_the_draw_honours_the_rate_with_a_fixed_seed() -> None:
    switch = FaultSwitch(seed=7)
    switch.set(parse_fault({"status": 503, "rate": 0.3}))
    hits = sum(switch.draw() is not None for _ in range(2000))
    assert 0.27 < hits / 2000 < 0.33
    again = FaultSwitch(seed=7)
    again.set(parse_fault({"status": 503, "rate": 0.3}))
    assert sum(again.draw() is not None for _ in range(2000)) == hits  # reproducible
    assert switch.statistics().http_faults == hits


def test_no_fault_draws_nothing() -> None:
    switch = FaultSwitch(seed=1)
    assert all(switch.draw() is None for _ in range(100))
    assert switch.statistics().requests == 100
