"""The fault switch's JSON is the testbed provider's: the same bodies parse the same way."""

from __future__ import annotations

import pytest

from chaos.faultproxy import FaultSwitch, HttpFault, StreamFault, parse_fault
from chaos.faults.scenarios import _switch_body
from chaos.spec.faults import ProviderOutageFault
from chaos.testbed import provider as testbed

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


@pytest.mark.parametrize("body", BODIES)
def test_bodies_parse_as_the_testbed_provider_parses_them(body: dict[str, object]) -> None:
    ours = parse_fault(body).to_json()
    theirs = testbed.parse_fault(body)
    expected = {k: v for k, v in vars(theirs).items() if v is not None or k != "code"} \
        if isinstance(theirs, testbed.StreamFault) else vars(theirs)
    assert ours == expected


@pytest.mark.parametrize("body", BAD)
def test_bad_bodies_are_refused_by_both(body: object) -> None:
    with pytest.raises(ValueError, match="fault") as ours:
        parse_fault(body)
    with pytest.raises(ValueError, match="fault") as theirs:
        testbed.parse_fault(body)
    assert str(ours.value) == str(theirs.value)


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
