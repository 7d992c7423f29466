"""Durations, percentages, counts and ${VAR} expansion parse as the spec formats promise."""

from __future__ import annotations

from datetime import timedelta

import pytest

from chaos.errors import SpecError
from chaos.spec import expand_env, format_duration, parse_count, parse_duration, parse_percent


@pytest.mark.parametrize(("text", "seconds"), [
    ("250ms", 0.25), ("90s", 90), ("2m", 120), ("1h30m", 5400), ("1.5s", 1.5), ("0s", 0),
    ("1d", 86400), (45, 45), (0.5, 0.5),
])
def test_durations_parse_to_timedelta(text: object, seconds: float) -> None:
    """Durations with units (or bare seconds) become timedeltas."""
    assert parse_duration(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize("text", ["10 minutes", "-5s", "5", "m", "", True, None, [1], "1x"])
def test_bad_durations_are_refused(text: object) -> None:
    """Anything that is not a non-negative duration is a ValueError with the value in it."""
    with pytest.raises(ValueError, match="duration"):
        parse_duration(text)


@pytest.mark.parametrize(("value", "text"), [(90, "1m30s"), (0.25, "250ms"), (0, "0s"), (5400, "1h30m")])
def test_durations_format_back(value: float, text: str) -> None:
    assert format_duration(timedelta(seconds=value)) == text


@pytest.mark.parametrize(("text", "fraction"), [("0.5%", 0.005), ("99.95%", 0.9995), ("100%", 1.0), (0.25, 0.25), (1, 1.0)])
def test_percentages_parse_to_fractions(text: object, fraction: float) -> None:
    assert parse_percent(text) == pytest.approx(fraction)


@pytest.mark.parametrize("text", ["150%", "5", 5, "-1%", True, "half"])
def test_bad_percentages_are_refused(text: object) -> None:
    with pytest.raises(ValueError, match=r"percentage|fraction"):
        parse_percent(text)


@pytest.mark.parametrize(("text", "count"), [("20k", 20_000), ("1k", 1_000), ("1.5k", 1_500), ("2M", 2_000_000), (200, 200), ("300", 300)])
def test_counts_parse_to_ints(text: object, count: int) -> None:
    assert parse_count(text) == count


@pytest.mark.parametrize("text", ["lots", "1.5", -3, True, 2.5, "1.0001k"])
def test_bad_counts_are_refused(text: object) -> None:
    with pytest.raises(ValueError, match="count"):
        parse_count(text)


def test_expand_env_resolves_variables_and_defaults() -> None:
    """${VAR} reads the environment; ${VAR:-default} falls back, and defaults may hold braces."""
    environ = {"TOKEN": "s3cret", "EMPTY": ""}
    assert expand_env("Bearer ${TOKEN}", environ) == "Bearer s3cret"
    assert expand_env("${MISSING:-tb-{subject}}", environ) == "tb-{subject}"
    assert expand_env("${EMPTY:-fallback}", environ) == "fallback"
    assert expand_env("${MISSING:-${TOKEN}}", environ) == "s3cret"
    assert expand_env("no variables", environ) == "no variables"


def test_expand_env_names_a_missing_variable() -> None:
    """A variable without a value or default is a SpecError naming the variable."""
    with pytest.raises(SpecError, match="CHAOS_NOPE_TOKEN is not set"):
        expand_env("x${CHAOS_NOPE_TOKEN}y", {}, where="environments/x.yaml")


@pytest.mark.parametrize("text", ["${unterminated", "${1BAD}", "${}"])
def test_expand_env_refuses_malformed_references(text: str) -> None:
    with pytest.raises(SpecError):
        expand_env(text, {})
