"""Property tests of the evaluator on generated recordings."""

from __future__ import annotations

import dataclasses

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chaos.recording import Recording
from chaos.slo import EvaluationConfig, Verdict, evaluate
from tests.slo.builders import RecordingBuilder

SETTINGS = settings(max_examples=40, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

counts = st.fixed_dictionaries({
    "2xx": st.integers(0, 400), "429": st.integers(0, 30), "4xx": st.integers(0, 10),
    "5xx": st.integers(0, 10), "transport": st.integers(0, 5),
})
latencies = st.lists(st.floats(1.0, 30_000.0), min_size=1, max_size=5)


@st.composite
def recordings(draw: st.DrawFn, scale: float = 1.0) -> tuple[Recording, Recording]:
    """A 3-worker run with per-second traffic; returns it with latencies scaled by `scale`
    drawn >= 1 (second element)."""
    seconds = draw(st.integers(3, 8))
    factor = draw(st.floats(1.0, 5.0))
    plan = [(draw(counts), draw(latencies), draw(latencies)) for _ in range(seconds)]
    unavailable = draw(st.sets(st.integers(0, seconds - 1), max_size=2))
    built = []
    for f in (1.0, factor):
        b = RecordingBuilder(workers=("w0", "w1", "w2")).phase("baseline", "baseline", seconds, "X")
        for sec, (c, ft, ct) in enumerate(plan):
            b.traffic(sec, sec + 1, c, first_token_ms=[v * f for v in ft],
                      completion_ms=[v * f for v in ct])
        for sec in range(seconds):
            b.probe(sec, sec + 1, available=sec not in unavailable)
        b.series("circuit_state", {"route": "primary"}, 0, seconds, 0.0)
        built.append(b.build())
    return built[0], built[1]


CONFIG = {"min_requests_for_p95": 1}


@SETTINGS
@given(recordings(), st.randoms(use_true_random=False))
def test_merging_worker_windows_in_any_order_gives_the_same_report(
        pair: tuple[Recording, Recording], rnd: object) -> None:
    rec = pair[0]
    shuffled = list(rec.windows)
    rnd.shuffle(shuffled)  # type: ignore[attr-defined]
    config = EvaluationConfig(tier="X", **CONFIG)  # type: ignore[arg-type]
    a = evaluate(config, rec)
    b = evaluate(config, dataclasses.replace(rec, windows=tuple(shuffled)))
    assert a.to_json() == b.to_json()


@SETTINGS
@given(recordings())
def test_failing_tier_l_never_passes_tier_x_except_on_the_429_budget(pair: tuple[Recording, Recording]) -> None:
    """Tier X is stricter than L on every threshold but the 429 budget (X allows 5.0%, L 4.0%
    in the program), so the property holds for every other criterion."""
    rec = pair[0]
    low = evaluate(EvaluationConfig(tier="L", **CONFIG), rec)  # type: ignore[arg-type]
    high = evaluate(EvaluationConfig(tier="X", **CONFIG), rec)  # type: ignore[arg-type]
    for c in low.criteria:
        if c.verdict is Verdict.FAIL and c.id.startswith("tier_l.") and ".rate_429@" not in c.id:
            assert high.criterion(c.id.replace("tier_l.", "tier_x.")).verdict is not Verdict.PASS
            assert high.verdict is not Verdict.PASS


@SETTINGS
@given(recordings())
def test_scaling_all_latencies_up_never_turns_a_fail_into_a_pass(pair: tuple[Recording, Recording]) -> None:
    base, slower = pair
    config = EvaluationConfig(tier="X", **CONFIG)  # type: ignore[arg-type]
    a, b = evaluate(config, base), evaluate(config, slower)
    for c in a.criteria:
        if c.verdict is Verdict.FAIL:
            assert b.criterion(c.id).verdict is not Verdict.PASS, c.id
    if a.verdict is Verdict.FAIL:
        assert b.verdict is not Verdict.PASS


def test_429_budget_is_the_one_threshold_where_tier_x_is_looser_than_l() -> None:
    """4.5% 429s: fails Tier L's 4.0% budget, passes Tier X's 5.0% (numbers from the program)."""
    b = RecordingBuilder().phase("baseline", "baseline", 10, "X")
    b.traffic(0, 10, {"2xx": 955, "429": 45}).probe(0, 10)
    b.series("circuit_state", {"route": "primary"}, 0, 10, 0.0)
    rec = b.build()
    assert evaluate(EvaluationConfig(tier="L"), rec).criterion("tier_l.rate_429@baseline").verdict is Verdict.FAIL
    assert evaluate(EvaluationConfig(tier="X"), rec).criterion("tier_x.rate_429@baseline").verdict is Verdict.PASS
