"""Hypothesis: whatever YAML reaches the loader, only SpecError escapes, and it names a location."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chaos.errors import SpecError
from chaos.spec import parse_drill, parse_environment

ROOT = Path(__file__).resolve().parents[2]
DRILL_TEXT = (ROOT / "experiments" / "regional-failover-unplanned.yaml").read_text(encoding="utf-8")
ENV_TEXT = (ROOT / "environments" / "local.yaml").read_text(encoding="utf-8")
LOCATED = re.compile(r"^<fuzz>:\d+:\d+: ")

FUZZ = settings(max_examples=int(os.environ.get("CHAOS_FUZZ_EXAMPLES", "150")), deadline=None, suppress_health_check=[HealthCheck.too_slow])

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-10**12, 10**12), st.floats(allow_nan=True),
    st.text(max_size=12),
    st.sampled_from(["90s", "2m", "-1s", "1h30m", "0.5%", "150%", "20k", "auto", "${X}",
                     "closed", "open", "provider_outage", "redis_loss", "region_failover",
                     "down", "latency", "G", "M3", "process", "docker", "production"]),
)
documents = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.one_of(st.text(max_size=10), st.sampled_from(
            ["version", "name", "tier", "load", "faults", "for", "at", "target", "mode",
             "scenario", "topology", "services", "runtime", "kind"])), children, max_size=5),
    ),
    max_leaves=20,
)


def assert_only_located_spec_errors(parse: Any, text: str) -> None:
    try:
        parse(text, path="<fuzz>")
    except SpecError as exc:
        for issue in exc.issues:
            assert LOCATED.match(str(issue)), f"issue without a location: {issue}"
            assert "\n" not in str(issue)


def _mutate(data: Any, path: list[Any], value: Any, delete: bool) -> Any:
    """Replace (or delete) the node at `path` (indices taken modulo the container size)."""
    if not path or not isinstance(data, dict | list) or not data:
        return value
    if isinstance(data, dict):
        key = sorted(data, key=str)[path[0] % len(data)]
        if delete and len(path) == 1:
            return {k: v for k, v in data.items() if k != key}
        return {**data, key: _mutate(data[key], path[1:], value, delete)}
    index = path[0] % len(data)
    if delete and len(path) == 1:
        return data[:index] + data[index + 1:]
    return [*data[:index], _mutate(data[index], path[1:], value, delete), *data[index + 1:]]


@FUZZ
@given(doc=documents)
def test_random_documents_raise_only_located_spec_errors(doc: Any) -> None:
    """Random YAML documents (any shape) fail with located SpecErrors, nothing else."""
    text = yaml.safe_dump(doc, allow_unicode=True)
    assert_only_located_spec_errors(parse_drill, text)
    assert_only_located_spec_errors(parse_environment, text)


@FUZZ
@given(text=st.text(alphabet=st.sampled_from(list("{}[]:-,&*!|>'\"#%@` \n\tab1${}")), max_size=80))
def test_random_text_raises_only_located_spec_errors(text: str) -> None:
    """Arbitrary text, mostly YAML syntax characters, fails with located SpecErrors only."""
    assert_only_located_spec_errors(parse_drill, text)
    assert_only_located_spec_errors(parse_environment, text)


@FUZZ
@given(
    which=st.sampled_from(["drill", "environment"]),
    path=st.lists(st.integers(0, 50), min_size=1, max_size=5),
    value=documents,
    delete=st.booleans(),
)
def test_mutated_reference_files_raise_only_located_spec_errors(
    which: str, path: list[int], value: Any, delete: bool
) -> None:
    """Random replacements and deletions inside the reference files fail only with located SpecErrors."""
    source, parse = (DRILL_TEXT, parse_drill) if which == "drill" else (ENV_TEXT, parse_environment)
    mutated = _mutate(yaml.safe_load(source), path, value, delete)
    assert_only_located_spec_errors(parse, yaml.safe_dump(mutated, allow_unicode=True))


@FUZZ
@given(cut=st.integers(0, len(DRILL_TEXT)), insert=st.text(max_size=6))
def test_spliced_drill_text_raises_only_located_spec_errors(cut: int, insert: str) -> None:
    """Text spliced into the reference drill at any offset fails only with located SpecErrors."""
    assert_only_located_spec_errors(parse_drill, DRILL_TEXT[:cut] + insert + DRILL_TEXT[cut:])
