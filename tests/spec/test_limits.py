"""The loader's limits (docs/spec-limits.md): bounded files, nesting, alias and merge expansion,
numbers, text; YAML 1.1 merge overrides; each refusal one located line, quick and small."""

from __future__ import annotations

import os
import threading
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from chaos.errors import SpecError
from chaos.spec import (
    check_drill_against_environment,
    check_environment_variables,
    load_drill,
    load_environment,
    parse_drill,
    parse_environment,
)
from chaos.spec.issues import SAME_KIND_LINES

ROOT = Path(__file__).resolve().parents[2]
CORPUS = Path(__file__).parent / "corpus"
ENV_TEXT = (CORPUS / "corpus-env.yaml").read_text(encoding="utf-8")
DRILL_TEXT = """version: 1
name: limits-drill
tier: L
duration: 10m
load:
  streams: 100
  ramp_up: 30s
  ramp_down: 30s
"""


def issues_of(parse: Callable[..., Any], text: str, path: str = "x.yaml") -> list[str]:
    """The issue lines of parsing `text` (empty when it is valid)."""
    try:
        parse(text, path=path)
    except SpecError as exc:
        return [str(i) for i in exc.issues]
    return []


def assert_one_line(lines: list[str], prefix: str, message: str = "") -> None:
    """Exactly one issue, starting with `prefix` and holding `message`."""
    assert len(lines) == 1, lines
    assert lines[0].startswith(prefix), lines[0]
    assert message in lines[0], lines[0]


def refused_quickly_and_small(parse: Callable[..., Any], text: str) -> list[str]:
    """The issues of `text`, asserting the loader took under 10 s and 64 MB to refuse it
    (unbounded, these files take minutes and gigabytes)."""
    tracemalloc.start()
    started = time.monotonic()
    try:
        lines = issues_of(parse, text)
    finally:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    assert time.monotonic() - started < 10.0
    assert peak < 64 * 2**20, f"peak {peak / 2**20:.0f} MB"
    return lines


def merge_bomb(levels: int = 9, width: int = 9) -> str:
    """The report's 4 KB file: each level merges `width` copies of the one before."""
    lines = ["x-defs:", "  m1: &m1 {a: 1, b: 2, c: 3}"]
    lines += [f"  m{i}: &m{i} {{<<: [{', '.join([f'*m{i - 1}'] * width)}]}}" for i in range(2, levels + 1)]
    return DRILL_TEXT + "\n".join(lines) + "\n"


def alias_bomb(levels: int = 9) -> str:
    """A billion laughs: each list holds ten aliases of the one before."""
    lines = ["x-defs:", "  a0: &a0 lol"]
    lines += [f"  a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, levels)]
    return DRILL_TEXT + "\n".join(lines) + "\n"


def string_bomb() -> str:
    """Few nodes, many characters: a 100 KB string referred to 100 times."""
    return DRILL_TEXT + "x-defs:\n  s: &s " + "x" * 100_000 + "\n  l: [" + ", ".join(["*s"] * 100) + "]\n"


@pytest.mark.parametrize(("text", "where", "message"), [
    (merge_bomb(), ":15:16: x-defs.m6.<<: ", "aliases and merge keys expand this value past 100,000 values"),
    (alias_bomb(), ":15:7: x-defs.a5: ", "aliases and merge keys expand this value past 100,000 values"),
    (string_bomb(), ":11:6: x-defs.l: ", "aliases and merge keys expand this value past 2,000,000 characters"),
    (DRILL_TEXT + "x: &x [1, *x]\n", ":9:11: x[1]: ", "alias '*x' refers to the value that contains it"),
    (DRILL_TEXT + "description: " + "[" * 200 + "]" * 200 + "\n", ":9:78: description[0][0]...: ",
     "the document nests deeper than 64 levels"),
    (DRILL_TEXT + "description: " + "{a: " * 1000 + "1" + "}" * 1000 + "\n", ":9:267: description.a.a...: ",
     "the document nests deeper than 64 levels"),
    ("a:\n" + "".join("  " * i + "- \n" for i in range(1, 200)), ":66:131: a[0][0]...: ",
     "the document nests deeper than 64 levels"),
])
def test_expansion_and_nesting_beyond_the_limits_are_refused(text: str, where: str, message: str) -> None:
    """Alias bombs, merge-key bombs, self-reference and deep nesting: one line at the
    offending anchor or bracket, within seconds and megabytes."""
    assert_one_line(refused_quickly_and_small(parse_drill, text), "x.yaml" + where, message)


def test_nesting_within_the_limit_is_parsed() -> None:
    """60 nested lists are allowed (then refused by the model, not by the limit)."""
    lines = issues_of(parse_drill, DRILL_TEXT + "description: " + "[" * 60 + "]" * 60 + "\n")
    assert lines
    assert all("nests deeper" not in line for line in lines)


@pytest.mark.slow
def test_a_large_flat_document_is_refused_as_too_large() -> None:
    """A document of more than 100,000 values without any alias is refused as one line too."""
    text = "version: 1\nx: [" + ",".join(["1"] * 100_001) + "]\n"
    lines = issues_of(parse_drill, text)
    assert lines == ["x.yaml:2:4: x: the document grows past 100,000 values (the limit)"]


MERGED_FAULTS = DRILL_TEXT + """faults:
  - &cut {id: cut-1, scenario: provider_outage, target: primary, mode: down, at: 2m, for: 1m}
  - {<<: *cut, id: cut-2, at: 4m}
  - <<: [{id: cut-3, at: 6m}, *cut]
    for: 30s
"""


def test_merge_keys_follow_yaml_1_1() -> None:
    """`{<<: *b, k: v}` overrides k (not a duplicate key); explicit keys win over merged ones;
    in a list of merges the earlier mapping wins."""
    drill = parse_drill(MERGED_FAULTS)
    assert [(f.id, f.at.total_seconds(), f.for_.total_seconds()) for f in drill.faults] == [
        ("cut-1", 120, 60), ("cut-2", 240, 60), ("cut-3", 360, 30)]


def test_a_duplicate_explicit_key_beside_a_merge_is_still_reported() -> None:
    text = MERGED_FAULTS.replace("{<<: *cut, id: cut-2, at: 4m}", "{<<: *cut, id: cut-2, at: 4m, at: 5m}")
    assert issues_of(parse_drill, text) == ["x.yaml:11:35: faults[1].at: duplicate key 'at' (first given on line 11)"]


NUMBERS = [
    ("  streams: 1e30\n", ":6:12: load.streams: '1e30' is not a count"),
    ("  streams: 2000001\n", ":6:12: load.streams: a count must be from 0 to 1,000,000, not 2000001"),
    ("  streams: " + "9" * 400 + "\n", ":6:12: load.streams: a count must be from 0 to 1,000,000, not a number of about 400 digits"),
    ("  streams: " + "9" * 5000 + "\n", ":6:12: load.streams: a number may have at most 4,300 digits"),
    ("  model: open\n  rate: 1.0e308\n", ":7:9: load.rate: a rate must be more than 0 and at most 1,000,000 per second"),
    ("  model: open\n  rate: 1.0e+400\n", ":7:9: load.rate: a rate must be a finite number, not inf"),
    ("  model: open\n  rate: .nan\n", ":7:9: load.rate: a rate must be a finite number, not nan"),
    ("  model: open\n  rate: 0\n", ":7:9: load.rate: a rate must be more than 0"),
    ("  streams: 10\n  workers: 1025\n", ":7:12: load.workers: workers must be from 1 to 1024 or 'auto', not 1025"),
    ("  streams: 10\n  think_time: " + "1" * 400 + "\n", ":7:15: load.think_time: a duration must be from 0s to 366d"),
    ("  streams: 10\n  think_time: 367d\n", ":7:15: load.think_time: a duration must be from 0s to 366d, not '367d'"),
    ("  streams: 10\n  timeouts: {total: .inf}\n", ":7:21: load.timeouts.total: a duration must be from 0s to 366d, not inf"),
]


@pytest.mark.parametrize(("load", "expected"), NUMBERS, ids=[e.split(": ", 2)[1] + str(i) for i, (_, e) in enumerate(NUMBERS)])
def test_numbers_outside_their_range_are_refused_with_the_field_and_range(load: str, expected: str) -> None:
    text = DRILL_TEXT.replace("  streams: 100\n", load)
    assert_one_line(issues_of(parse_drill, text), "x.yaml" + expected)


@pytest.mark.parametrize(("extra", "expected"), [
    ("steady_state:\n  - {name: c, metric: circuit_state, below: .nan}\n",
     ":10:45: steady_state[0].below: a threshold must be a finite number, not nan"),
    ("steady_state:\n  - {name: c, metric: circuit_state, above: 1.0e+300}\n",
     ":10:45: steady_state[0].above: a threshold must be from -1e15 to 1e15"),
    ("abort:\n  - {name: a, metric: circuit_state, above: .inf}\n",
     ":10:45: abort[0].above: a threshold must be a finite number, not inf"),
    ("abort:\n  - {name: a, metric: p95_first_token_ms, above: .nan}\n",
     ":10:50: abort[0].above: a threshold must be a finite number, not nan"),
    ("abort:\n  - {name: a, metric: rate_5xx, above: .nan}\n",
     ":10:40: abort[0].above: nan is not a fraction in [0, 1]"),
    ("slo:\n  overrides: {availability: " + "9" * 400 + "}\n",
     ":10:29: slo.overrides.availability: a number of about 400 digits is not a fraction in [0, 1]"),
])
def test_thresholds_must_be_finite(extra: str, expected: str) -> None:
    assert_one_line(issues_of(parse_drill, DRILL_TEXT + extra), "x.yaml" + expected)


@pytest.mark.parametrize(("old", "new", "expected"), [
    ("name: corpus-env", 'name: "corpus-env\\nok forged.yaml: environment"',
     ":3:7: name: must not contain control characters (found '\\n')"),
    ("  base_url: http://127.0.0.1:18080\n", "  base_url: http://127.0.0.1:18080\n  auth: {token: t, subjects: 0}\n",
     ":7:30: target.auth.subjects: a count must be from 1 to 1,000,000,000, not 0"),
    ("  base_url: http://127.0.0.1:18080\n", '  base_url: http://127.0.0.1:18080\n  auth: {token: "t\\r\\nX: 1"}\n',
     ":7:17: target.auth.token: must not contain control characters (found '\\r')"),
    ("  base_url: http://127.0.0.1:18080\n", "  base_url: http://127.0.0.1:18080\n  health_path: health\n",
     ":7:16: target.health_path: must be a URL path starting with '/', not 'health'"),
    ("      services: [provider-primary]\n", "      services: [provider-primary]\n      http_fault: not a url\n",
     ":22:19: topology.providers.primary.http_fault: must be an http:// or https:// URL, not 'not a url'"),
    ("scrape: [http://127.0.0.1:18080/metrics]", 'scrape: ["http://127.0.0.1:18080/metrics\\r\\n"]',
     ":30:12: metrics.scrape[0]: must not contain spaces or control characters"),
    ("  api: http://127.0.0.1:18474", "  api: http://user:hunter2@127.0.0.1:99999",
     ":8:8: toxiproxy.api: must be an http:// or https:// URL with a valid host and port, not 'http://***@127.0.0.1:99999'"),
    ("  regions:\n    us-east:", '  regions:\n    "us-\\x1beast":',
     ":26:5: topology.regions.us-\\x1beast: must not contain control characters (found '\\x1b')"),
])
def test_environment_text_fields_are_one_line_and_well_formed(old: str, new: str, expected: str) -> None:
    """Names, ids, tokens, paths and URLs: no control characters; URLs are http(s) with a host."""
    assert ENV_TEXT.count(old) == 1
    assert_one_line(issues_of(parse_environment, ENV_TEXT.replace(old, new)), "x.yaml" + expected)


def test_steady_state_path_with_crlf_is_refused() -> None:
    text = DRILL_TEXT + 'steady_state:\n  - name: h\n    http: {path: "/health\\r\\nX-Injected: 1"}\n'
    assert issues_of(parse_drill, text) == [
        "x.yaml:11:18: steady_state[0].http.path: must not contain spaces or control characters, "
        "not '/health\\r\\nX-Injected: 1'"]


def test_messages_quote_at_most_about_80_characters_of_a_value() -> None:
    """A 100 KB value or key is clipped in every message; each message stays one short line."""
    text = DRILL_TEXT.replace("tier: L", "tier: " + "Z" * 100_000) + "gate: " + "M" * 100_000 + "\n"
    lines = issues_of(parse_drill, text)
    assert len(lines) == 2
    assert all(len(line) < 500 and "\n" not in line for line in lines), [len(line) for line in lines]


def test_repeated_findings_are_summarised_after_20_lines() -> None:
    """300 faults overlapping on one target (44,850 pairs) print 20 lines and a summary."""
    faults = "".join(f"  - {{id: f{i}, scenario: provider_outage, target: primary, mode: down, at: 2m, for: 1m}}\n"
                     for i in range(300))
    started = time.monotonic()
    lines = issues_of(parse_drill, DRILL_TEXT + "faults:\n" + faults)
    assert time.monotonic() - started < 10
    assert len(lines) == SAME_KIND_LINES + 1
    assert "... and 44,830 more like" in lines[-1]


def test_more_than_1000_faults_are_refused() -> None:
    faults = "".join(f"  - {{id: f{i}, scenario: provider_outage, target: primary, mode: down, at: 2m, for: 1m}}\n"
                     for i in range(1001))
    assert issues_of(parse_drill, DRILL_TEXT + "faults:\n" + faults) == [
        "x.yaml:9:1: faults: must have at most 1000 items, not 1001"]


# Files: only regular ones, at most 1 MB, UTF-8 with undecodable bytes located.

def _within(seconds: float, call: Callable[[], object]) -> BaseException | None:
    """Run `call` in a thread; fail if it does not end within `seconds` (a FIFO would block)."""
    outcome: list[BaseException | None] = []

    def target() -> None:
        try:
            call()
            outcome.append(None)
        except BaseException as exc:  # handed to the test
            outcome.append(exc)

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"still reading after {seconds} s"
    return outcome[0]


def test_a_fifo_is_refused_without_reading_from_it(tmp_path: Path) -> None:
    fifo = tmp_path / "drill.yaml"
    os.mkfifo(fifo)
    exc = _within(5, lambda: load_drill(fifo))
    assert isinstance(exc, SpecError)
    assert str(exc) == f"{fifo}: cannot read the file: it is a FIFO, not a regular file"


@pytest.mark.parametrize(("path", "kind"), [("/dev/zero", "a character device"), ("/", "a directory")])
def test_devices_and_directories_are_refused_at_once(path: str, kind: str) -> None:
    exc = _within(5, lambda: load_environment(path))
    assert isinstance(exc, SpecError)
    assert str(exc) == f"{path}: cannot read the file: it is {kind}, not a regular file"


def test_a_file_over_1_mb_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "big.yaml"
    path.write_text("version: 1\n" + "#" * 1_000_000 + "\n")
    with pytest.raises(SpecError, match=r"big.yaml: cannot read the file: it is larger than 1,000,000 bytes"):
        load_drill(path)


def test_undecodable_bytes_are_reported_with_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes("version: 1\nname: ok\ndescription: caf\u00e9 na\xefve\n".encode("latin-1"))
    with pytest.raises(SpecError) as info:
        load_drill(path)
    assert str(info.value) == (f"{path}:3:17: the file is not UTF-8 text: byte 0xe9 cannot be decoded; "
                               "save the file as UTF-8")


# ${VAR}: whatever validate (with --env) and plan accept, run can resolve.

UNSET = "CHAOS_TEST_UNSET_VARIABLE"
REF = "${" + UNSET + "}"
VARIABLE_FIELDS = [
    ("  base_url: http://127.0.0.1:18080", "  base_url: http://" + REF, 6, "target.base_url"),
    ("  api: http://127.0.0.1:18474", f'  api: "{REF}"', 8, "toxiproxy.api"),
    ("  state_file: /tmp/state.json", f"  state_file: {REF}/state.json", 11, "runtime.state_file"),
    ("      services: [provider-primary]\n", f'      services: [provider-primary]\n      http_fault: "{REF}"\n',
     22, "topology.providers.primary.http_fault"),
    ("scrape: [http://127.0.0.1:18080/metrics]", f'scrape: ["http://127.0.0.1:18080/metrics", "{REF}"]',
     30, "metrics.scrape[1]"),
    ("  base_url: http://127.0.0.1:18080\n", f'  base_url: http://127.0.0.1:18080\n  auth: {{token: "{REF}"}}\n',
     7, "target.auth.token"),
    ("      services: [gateway-us-east]\n",
     f'      services: [gateway-us-east]\n      drain: {{url: "{REF}/drain"}}\n      undrain: {{url: "http://h/u"}}\n',
     29, "topology.regions.us-east.drain.url"),
]


@pytest.mark.parametrize(("old", "new", "line", "field"), VARIABLE_FIELDS, ids=[f[3] for f in VARIABLE_FIELDS])
def test_an_unset_variable_is_one_line_naming_it_and_the_field(
    tmp_path: Path, old: str, new: str, line: int, field: str
) -> None:
    assert ENV_TEXT.count(old) == 1
    env_path = tmp_path / "env.yaml"
    env_path.write_text(ENV_TEXT.replace(old, new))
    env = load_environment(env_path)  # a template is valid on its own
    with pytest.raises(SpecError) as info:
        check_environment_variables(env, env_path=env_path, environ={})
    [issue] = info.value.issues
    assert (issue.line, issue.field) == (line, field)
    assert issue.message == f"environment variable {UNSET} is not set and has no default"
    drill_path = tmp_path / "drill.yaml"
    drill_path.write_text(DRILL_TEXT)
    with pytest.raises(SpecError) as again:  # the check run, plan and the plugin go through
        check_drill_against_environment(load_drill(drill_path), env, drill_path=drill_path,
                                        env_path=env_path, environ={})
    assert again.value.issues == [issue]
    check_environment_variables(env, env_path=env_path, environ={UNSET: "http://127.0.0.1:1"})


def test_a_compose_project_variable_is_checked(tmp_path: Path) -> None:
    env_path = tmp_path / "env.yaml"
    env_path.write_text((ROOT / "environments" / "compose.yaml").read_text().replace(
        "${CHAOS_COMPOSE_PROJECT:-chaos-testbed}", REF, 1))
    with pytest.raises(SpecError, match=rf"runtime.compose_project: environment variable {UNSET} is not set"):
        check_environment_variables(load_environment(env_path), env_path=env_path, environ={})


def test_a_resolved_value_is_checked_without_being_shown(tmp_path: Path) -> None:
    """A variable that resolves to a non-URL or to a line break is refused; the message names
    the variable, never the value (it may be a secret)."""
    env_path = tmp_path / "env.yaml"
    env_path.write_text(ENV_TEXT.replace("  api: http://127.0.0.1:18474", '  api: "${TP}"').replace(
        "  base_url: http://127.0.0.1:18080\n", '  base_url: http://127.0.0.1:18080\n  auth: {token: "${TOK}"}\n'))
    env = load_environment(env_path)
    with pytest.raises(SpecError) as info:
        check_environment_variables(env, env_path=env_path, environ={"TP": "s3cret-not-a-url", "TOK": "s3cret\r\nX: 1"})
    text = str(info.value)
    assert "s3cret" not in text
    assert [(i.field, i.message.split(" resolves")[0]) for i in info.value.issues] == [
        ("target.auth.token", "the value of ${TOK}"), ("toxiproxy.api", "the value of ${TP}")]


def test_shipped_environments_resolve_with_their_defaults() -> None:
    """local.yaml and compose.yaml need no variable set; staging.yaml names what it needs."""
    for name in ("local.yaml", "compose.yaml"):
        path = ROOT / "environments" / name
        check_environment_variables(load_environment(path), env_path=path, environ={})
    staging = ROOT / "environments" / "staging.yaml"
    with pytest.raises(SpecError, match="STAGING_CHAT_TOKEN is not set"):
        check_environment_variables(load_environment(staging), env_path=staging, environ={})


def test_yaml_text_over_the_size_limit_is_refused() -> None:
    assert issues_of(parse_drill, "version: 1\n" + "#" * 1_000_001) == [
        "x.yaml:1:1: the document is larger than 1,000,000 characters (the limit)"]


def test_reference_files_parse_identically_with_the_bounded_loader() -> None:
    """The limits do not change what a valid file means: every shipped file's data equals
    PyYAML's own reading of it."""
    from chaos.spec.yamlmap import parse_yaml

    for path in sorted([*(ROOT / "experiments").glob("*.yaml"), *(ROOT / "environments").glob("*.yaml")]):
        text = path.read_text(encoding="utf-8")
        document, issues = parse_yaml(text, str(path))
        assert not issues
        assert document is not None
        assert document.data == yaml.safe_load(text), path.name
