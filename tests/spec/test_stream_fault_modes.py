"""provider_outage's stream modes (stream_error, stream_truncate, stream_stall): their params
and the environment they need."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import TypeAdapter, ValidationError

from chaos.errors import SpecError
from chaos.spec import (
    ProviderOutageFault,
    check_drill_against_environment,
    load_drill,
    parse_environment,
)
from chaos.spec.faults import Fault

ROOT = Path(__file__).resolve().parents[2]
LOCAL = ROOT / "environments" / "local.yaml"
CORPUS_DRILL = Path(__file__).parent / "corpus" / "dx-stream-fault-needs-http-fault.yaml"
FAULTS: TypeAdapter[Any] = TypeAdapter(Fault)


def fault(**fields: Any) -> Any:
    return FAULTS.validate_python({"id": "f", "at": "1m", "for": "30s", "scenario": "provider_outage",
                                   "target": "primary", **fields})


@pytest.mark.parametrize("mode", ["stream_error", "stream_truncate", "stream_stall"])
def test_stream_modes_need_no_params_and_take_chunks_and_share(mode: str) -> None:
    """Each stream mode parses bare (defaults left to the scenario), and with after_chunks as
    a count and toxicity as a percentage."""
    bare = fault(mode=mode)
    assert isinstance(bare, ProviderOutageFault)
    assert (bare.after_chunks, bare.toxicity, bare.code) == (None, None, None)
    full = fault(mode=mode, after_chunks="3", toxicity="25%")
    assert (full.after_chunks, full.toxicity) == (3, 0.25)


def test_stream_error_takes_a_code() -> None:
    assert fault(mode="stream_error", code="rate_limit_error").code == "rate_limit_error"
    assert fault(mode="stream_error", code="e" * 41).code == "e" * 41


@pytest.mark.parametrize(("fields", "message"), [
    ({"mode": "stream_truncate", "code": "overloaded_error"}, "'code' does not apply to mode 'stream_truncate'"),
    ({"mode": "stream_stall", "code": "overloaded_error"}, "'code' does not apply to mode 'stream_stall'"),
    ({"mode": "stream_error", "code": "Overloaded"}, "an error code is a lowercase letter"),
    ({"mode": "stream_error", "code": "e" * 42}, "an error code is a lowercase letter"),
    ({"mode": "stream_error", "code": "1abc"}, "an error code is a lowercase letter"),
    ({"mode": "stream_error", "after_chunks": -1}, "must not be negative"),
    ({"mode": "stream_stall", "status": 503}, "'status' does not apply to mode 'stream_stall'"),
    ({"mode": "stream_error", "retry_after": "5s"}, "'retry_after' does not apply"),
    ({"mode": "http_errors", "status": 503, "after_chunks": 2}, "'after_chunks' does not apply"),
    ({"mode": "down", "code": "overloaded_error"}, "'code' does not apply to mode 'down'"),
    ({"mode": "stream_tear"}, "stream_error"),
])
def test_stream_params_are_checked(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        fault(**fields)


def test_stream_modes_need_the_routes_http_fault_switch_not_its_proxies() -> None:
    """Against an environment whose primary route has no http_fault the drill is refused at the
    mode; with the switch and no proxies it is accepted."""
    drill = load_drill(CORPUS_DRILL)
    text = LOCAL.read_text("utf-8")
    assert "      http_fault: http://127.0.0.1:18091/admin/fault\n" in text
    without_switch = parse_environment(
        text.replace("      http_fault: http://127.0.0.1:18091/admin/fault\n", ""), path="env.yaml")
    with pytest.raises(SpecError, match=r"mode 'stream_stall' needs topology\.providers\.primary\.http_fault"):
        check_drill_against_environment(drill, without_switch, drill_path=CORPUS_DRILL,
                                        env_path="env.yaml")
    no_proxies = text.replace("      proxies: [us-east-primary, us-west-primary]\n", "")
    assert no_proxies != text
    check_drill_against_environment(drill, parse_environment(no_proxies, path="env.yaml"),
                                    drill_path=CORPUS_DRILL, env_path="env.yaml")
