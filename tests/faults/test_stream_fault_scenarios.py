"""provider_outage's stream modes resolve to the provider's HTTP fault switch (no I/O)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import TypeAdapter

from chaos.cli.plan_view import _from_topology
from chaos.errors import FaultError
from chaos.faults import describe_fault, resolve_fault
from chaos.spec.faults import Fault
from chaos.spec.loader import load_environment, parse_environment

ROOT = Path(__file__).resolve().parents[2]
LOCAL = load_environment(ROOT / "environments" / "local.yaml")
FAULTS: TypeAdapter[Any] = TypeAdapter(Fault)
SWITCH = "http://127.0.0.1:18091/admin/fault"


def fault(**fields: Any) -> Any:
    return FAULTS.validate_python({"id": "f", "at": "1m", "for": "30s", "scenario": "provider_outage",
                                   "target": "primary", **fields})


@pytest.mark.parametrize(("fields", "body"), [
    ({"mode": "stream_error"},
     {"stream": "error", "after_chunks": 1, "rate": 1.0, "code": "overloaded_error"}),
    ({"mode": "stream_error", "after_chunks": 4, "toxicity": "10%", "code": "rate_limit_error"},
     {"stream": "error", "after_chunks": 4, "rate": 0.1, "code": "rate_limit_error"}),
    ({"mode": "stream_truncate"}, {"stream": "truncate", "after_chunks": 1, "rate": 1.0}),
    ({"mode": "stream_truncate", "after_chunks": 0, "toxicity": 0.5},
     {"stream": "truncate", "after_chunks": 0, "rate": 0.5}),
    ({"mode": "stream_stall", "after_chunks": "2"}, {"stream": "stall", "after_chunks": 2, "rate": 1.0}),
    ({"mode": "stream_stall", "regions": ["us-west"]},
     {"stream": "stall", "after_chunks": 1, "rate": 1.0}),
])
def test_stream_modes_post_their_fault_to_the_switch_and_delete_it_on_revert(
    fields: dict[str, Any], body: dict[str, Any],
) -> None:
    """One http primitive on the route's switch: POST the stream fault (defaults filled in),
    expect 200; revert DELETEs it."""
    [p] = resolve_fault(fault(**fields), LOCAL)
    assert (p.kind, p.target) == ("http", SWITCH)
    assert p.params["apply"] == {"method": "POST", "url": SWITCH, "body": body, "expect_status": 200}
    assert p.params["undo"] == {"method": "DELETE", "url": SWITCH, "body": None, "expect_status": 200}


def test_http_errors_body_is_unchanged() -> None:
    [p] = resolve_fault(fault(mode="http_errors", status=429), LOCAL)
    assert p.params["apply"]["body"] == {"status": 429, "retry_after_s": None, "rate": 1.0}


def test_stream_mode_without_a_switch_is_a_fault_error() -> None:
    text = (ROOT / "environments" / "local.yaml").read_text("utf-8")
    env = parse_environment(text.replace(f"      http_fault: {SWITCH}\n", ""), path="env.yaml")
    with pytest.raises(FaultError, match="mode stream_truncate needs the route's http_fault URL"):
        resolve_fault(fault(mode="stream_truncate"), env)


def test_plan_lines_name_the_switch_and_the_break() -> None:
    assert describe_fault(fault(mode="stream_stall"), LOCAL) == [
        f"http: POST {SWITCH} (expect 200); revert DELETE {SWITCH} (expect 200); "
        "each read back with GET"]
    assert _from_topology(fault(mode="stream_error", after_chunks=3, toxicity="50%"), LOCAL) == [
        f"HTTP fault switch {SWITCH}: streams break after 3 chunk(s) on 50% of requests: "
        "in-band error overloaded_error"]
    assert _from_topology(fault(mode="stream_truncate"), LOCAL) == [
        f"HTTP fault switch {SWITCH}: streams break after 1 chunk(s) on 100% of requests: "
        "end without [DONE]"]
