"""The rollback triggers' numbers come from the catalog, and the evaluator judges with them."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from chaos.slo import CatalogError, EvaluationConfig, evaluate
from chaos.slo.catalog import rollback_minutes, rollback_over_s
from tests.slo.builders import healthy


def test_catalog_trigger_numbers_are_the_programs() -> None:
    assert rollback_minutes("rate_5xx_5min") == 5
    assert rollback_minutes("rate_2xx_10min") == 10
    assert rollback_over_s("circuit_open_2min") == 120.0
    assert rollback_over_s("queue_age_10min") == 600.0


def test_the_evaluator_judges_rollback_with_the_catalog_numbers() -> None:
    config = EvaluationConfig(tier="L", queue_age_max_s=60.0)
    assert config.rollback_circuit_s == rollback_over_s("circuit_open_2min")
    report = evaluate(config, healthy(seconds=660, tier="L").build())
    assert report.criterion("rollback.circuit_open_2min@run[route=primary]").threshold == 120.0
    assert report.criterion("rollback.queue_age_10min@run").threshold == 600.0
    assert report.criterion("rollback.rate_5xx_5min@run").threshold == 5.0
    assert report.criterion("rollback.rate_2xx_10min@run").threshold == 10.0


@pytest.mark.parametrize(("lookup", "trigger_id"), [
    (rollback_over_s, "nope"), (rollback_over_s, "rate_5xx_5min"), (rollback_minutes, "circuit_open_2min"),
])
def test_asking_a_trigger_for_a_number_it_does_not_have_is_a_catalog_error(
        lookup: Callable[[str], object], trigger_id: str) -> None:
    with pytest.raises(CatalogError):
        lookup(trigger_id)
