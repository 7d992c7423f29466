"""The catalog holds the seed's numbers exactly; `chaos slo show` prints them."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from chaos.cli import app
from chaos.slo import GATES, PROFILES, TIERS, CatalogError, EvaluationConfig


@pytest.mark.parametrize(("name", "row"), [
    ("L", (1_000, 0.995, 0.95, 0.010, 0.040, 3_000.0, 20_000.0)),
    ("G", (5_000, 0.999, 0.95, 0.005, 0.040, 2_500.0, 18_000.0)),
    ("X", (20_000, 0.9995, 0.95, 0.003, 0.050, 2_000.0, 15_000.0)),
])
def test_tiers_match_the_phase_5_program(name: str, row: tuple[float, ...]) -> None:
    t = TIERS[name]
    assert (t.streams, t.availability_min, t.rate_2xx_min, t.rate_5xx_max, t.rate_429_max,
            t.p95_first_token_ms_max, t.p95_completion_ms_max) == row


def test_gates_and_profiles_match_the_program() -> None:
    assert {g: (x.tier, x.profile, x.min_soak_s, x.circuit_open_max_s, x.queue_age_max_s)
            for g, x in GATES.items()} == {
        "M1": ("L", "m1_1k", 1800.0, 120.0, 60.0),
        "M2": ("G", "m2_5k", 3600.0, 120.0, 45.0),
        "M3": ("X", "m3_20k", 7200.0, 120.0, 30.0),
    }
    assert GATES["M2"].forbid_baseline_failover
    assert GATES["M3"].failover_drill_tier == "G"
    assert {p.name: p.streams for p in PROFILES.values()} == {"m1_1k": 1000, "m2_5k": 5000, "m3_20k": 20000}


def test_config_rejects_unknown_names_and_mismatched_gate() -> None:
    with pytest.raises(CatalogError):
        EvaluationConfig(tier="Z")
    with pytest.raises(CatalogError):
        EvaluationConfig(tier="L", gate="M3")
    with pytest.raises(CatalogError):
        EvaluationConfig(tier="X", overrides={"rate_6xx": 0.1})


def test_gate_defaults_limits() -> None:
    c = EvaluationConfig(tier="G", gate="M2")
    assert (c.circuit_limit_s, c.queue_limit_s) == (120.0, 45.0)
    assert EvaluationConfig(tier="X").queue_limit_s is None


def test_slo_show_prints_tier_and_gate() -> None:
    result = CliRunner().invoke(app, ["slo", "show", "--gate", "M3"])
    assert result.exit_code == 0, result.output
    assert "99.95%" in result.output
    assert "2,000 ms" in result.output
    assert "120m" in result.output
    assert "<= 30s" in result.output
    assert "G (Growth)" in result.output


def test_slo_show_unknown_tier_is_a_usage_error() -> None:
    result = CliRunner().invoke(app, ["slo", "show", "--tier", "Q"])
    assert result.exit_code == 2
