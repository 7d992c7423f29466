"""Pure parts of the checklist: SSE structure, log-line fields, privacy judgement, checklist files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chaos.errors import SpecError
from chaos.release.checks import Exchange, _sse_structure, burst_criteria, chat_happy_criterion
from chaos.release.config import Checklist, load_checklist
from chaos.release.logs import CommandSource, FileSource, line_fields
from chaos.release.privacy import judge_lines
from chaos.slo.verdict import Verdict

FIELDS = ("request_id", "hashed_subject", "waf_decision", "plan_decision")
REPO = Path(__file__).resolve().parents[2]


def log_line(**extra: object) -> str:
    record = {"request_id": "r1", "hashed_subject": "ab", "waf_decision": "allow",
              "plan_decision": "free", **extra}
    return json.dumps({k: v for k, v in record.items() if v is not None})


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b"data: {\"t\":\"a\"}\n\ndata: {\"t\":\"b\"}\n\ndata: [DONE]\n\n", (2, True)),
        (b"event: token\r\ndata: x\r\n\r\nevent: done\r\ndata: {}\r\n\r\n", (1, True)),
        (b": keep-alive\n\ndata: x\n\ndata: {\"type\": \"done\"}\n\n", (1, True)),
        (b"data: x\n\ndata: y\n\n", (2, False)),
        (b"", (0, False)),
    ],
)
def test_sse_structure_counts_events_and_finds_the_done_marker(body: bytes, expected: tuple[int, bool]) -> None:
    assert _sse_structure(body) == expected


def test_happy_path_needs_a_stream_with_events_and_done() -> None:
    ok = Exchange(200, 10.0, content_type="text/event-stream", events=3, done=True)
    cut = Exchange(200, 10.0, content_type="text/event-stream", events=3, done=False)
    json_200 = Exchange(200, 10.0, content_type="application/json")
    assert chat_happy_criterion(ok).verdict is Verdict.PASS
    assert "done marker" in chat_happy_criterion(cut).reason
    assert chat_happy_criterion(cut).verdict is Verdict.FAIL
    assert chat_happy_criterion(json_200).verdict is Verdict.FAIL
    assert chat_happy_criterion(Exchange(503, 1.0, error="redis_unavailable")).verdict is Verdict.FAIL


@pytest.mark.parametrize(
    ("statuses", "rate_limited", "no_5xx"),
    [
        ([200, 200, 429], Verdict.PASS, Verdict.PASS),
        ([200, 200, 200], Verdict.FAIL, Verdict.PASS),
        ([200, 429, 503], Verdict.PASS, Verdict.FAIL),
        ([429, None], Verdict.PASS, Verdict.FAIL),  # a transport failure counts with 5xx
    ],
)
def test_burst_needs_some_429_and_no_server_failure(
    statuses: list[int | None], rate_limited: Verdict, no_5xx: Verdict
) -> None:
    got = burst_criteria([Exchange(s, 1.0, error=None if s else "reset") for s in statuses])
    assert [c.verdict for c in got] == [rate_limited, no_5xx]


def test_privacy_fails_when_the_canary_is_in_a_line() -> None:
    canary = "release-canary-0123"
    lines = [log_line(message_text=canary)]
    privacy, fields = judge_lines(lines, canary, FIELDS, {})
    assert privacy.verdict is Verdict.FAIL
    assert privacy.measured == 1.0
    assert fields.verdict is Verdict.PASS


def test_required_fields_fail_when_a_request_line_lacks_one() -> None:
    lines = [log_line(), log_line(plan_decision=None), "uvicorn started"]
    privacy, fields = judge_lines(lines, "canary-x", FIELDS, {})
    assert privacy.verdict is Verdict.PASS
    assert fields.verdict is Verdict.FAIL
    assert fields.details["missing_fields"] == {"plan_decision": 1}


def test_no_line_written_is_inconclusive_for_privacy_and_a_failure_for_fields() -> None:
    privacy, fields = judge_lines([], "canary-x", FIELDS, {})
    assert privacy.verdict is Verdict.INCONCLUSIVE
    assert fields.verdict is Verdict.FAIL


def test_line_fields_reads_json_and_key_value_lines() -> None:
    assert line_fields(log_line(), FIELDS) == set(FIELDS)
    assert line_fields('2024-01-01 INFO {"request_id": "x"}', FIELDS) == {"request_id"}
    assert line_fields("request_id=1 hashed_subject=ab waf_decision=allow", FIELDS) == set(FIELDS[:3])


def test_file_source_returns_only_lines_appended_after_the_mark(tmp_path: Path) -> None:
    a, b = tmp_path / "a.log", tmp_path / "b.log"
    a.write_text("old\n")
    source = FileSource([a, b])  # b does not exist yet: it counts as empty
    source.mark()
    with a.open("a") as f:
        f.write("new-a\n")
    b.write_text("new-b\n")
    assert source.read_since_mark() == ["new-a", "new-b"]


def test_command_source_drops_what_was_printed_before_the_mark(tmp_path: Path) -> None:
    log = tmp_path / "x.log"
    log.write_text("one\n")
    source = CommandSource(f"cat {log}")
    source.mark()
    with log.open("a") as f:
        f.write("two\n")
    assert source.read_since_mark() == ["two"]


def test_the_ready_checklist_file_equals_the_built_in_defaults() -> None:
    loaded = load_checklist(REPO / "experiments" / "release.yaml")
    assert loaded.model_dump(exclude={"name", "description"}) == Checklist().model_dump(
        exclude={"name", "description"})


def test_a_bad_checklist_names_file_line_and_field(tmp_path: Path) -> None:
    path = tmp_path / "r.yaml"
    path.write_text("version: 1\nkind: release\nburst:\n  requests: lots\n")
    with pytest.raises(SpecError) as info:
        load_checklist(path)
    issue = info.value.issues[0]
    assert (issue.line, issue.field) == (4, "burst.requests")
