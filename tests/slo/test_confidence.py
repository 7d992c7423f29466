"""Confidence as context: Wilson intervals against published values, Mann-Whitney and
Hodges-Lehmann against brute force, the binned versions against the raw samples within the
bins, and the evaluator and the views carrying both without changing a verdict."""

from __future__ import annotations

import dataclasses
import itertools
import json
import math
import random
import statistics

import pytest

from chaos.report.evidence import Evidence
from chaos.report.html import render_html
from chaos.report.lines import plain_report
from chaos.report.sections import report_sections
from chaos.report.summary import render_summary
from chaos.run.judge import judge
from chaos.slo import EvaluationConfig, Report, Verdict, evaluate
from chaos.slo.confidence import (
    Z95,
    binned_hodges_lehmann,
    bins_of,
    histogram_ranges,
    hl_ranges,
    hodges_lehmann,
    interval_decides,
    mann_whitney,
    midpoints,
    rate_confidence,
    wilson_interval,
)
from chaos.slo.histogram import HistogramAccumulator, encode_latencies_us
from tests.slo.builders import RecordingBuilder

# Wilson score intervals, 95 %, no continuity correction. The first four are the brief's
# cases; the last four are Newcombe (1998), Statistics in Medicine 17:857, table II, method 3.
WILSON_TABLE = [
    (0, 10, 0.0, 0.2775),
    (5, 10, 0.2366, 0.7634),
    (95, 100, 0.8882, 0.9785),
    (0, 1000, 0.0, 0.0038),
    (81, 263, 0.2553, 0.3662),
    (15, 148, 0.0624, 0.1605),
    (0, 20, 0.0, 0.1611),
    (1, 29, 0.0061, 0.1718),
]


@pytest.mark.parametrize(("successes", "n", "low", "high"), WILSON_TABLE)
def test_wilson_matches_the_reference_table(successes: int, n: int, low: float, high: float) -> None:
    assert wilson_interval(successes, n) == pytest.approx((low, high), abs=5e-5)


@pytest.mark.parametrize(("successes", "n"), [(s, n) for s, n, _, _ in WILSON_TABLE])
def test_wilson_bounds_are_where_the_score_test_is_exactly_z(successes: int, n: int) -> None:
    """Each bound inside (0, 1) solves |p_hat - p| = z sqrt(p (1 - p) / n)."""
    p_hat = successes / n
    for p in wilson_interval(successes, n):
        if 0.0 < p < 1.0:
            assert abs(p_hat - p) / math.sqrt(p * (1 - p) / n) == pytest.approx(Z95, rel=1e-9)


def test_wilson_at_zero_and_all_is_exactly_bounded() -> None:
    assert wilson_interval(0, 1000)[0] == 0.0
    assert wilson_interval(1000, 1000)[1] == 1.0
    assert wilson_interval(0, 1000)[1] == pytest.approx(Z95**2 / (1000 + Z95**2))
    with pytest.raises(ValueError, match="no proportion"):
        wilson_interval(0, 0)


@pytest.mark.parametrize(("successes", "threshold", "comparison", "shown"), [
    # 594/600 = 99.0 %, interval 97.84-99.54 %: wholly above a 95 % minimum, so shown
    (594, 0.95, ">=", True),
    # 574/600 = 95.7 % passes a 95 % minimum, but the interval 93.73-97.03 % straddles it
    (574, 0.95, ">=", False),
    # 594/600 fails a 99.5 % minimum, and the interval's top (99.54 %) is above it
    (594, 0.995, ">=", False),
    (558, 0.95, ">=", True),  # 93.0 %, interval 90.7-94.8 %: shown to fail
    (560, 0.95, ">=", False),  # 93.3 %, interval 91.0-95.07 %: a FAIL not shown
    (0, 0.003, "<=", False),  # no 5xx in 600 requests does not show 5xx <= 0.3 % (top 0.64 %)
    (0, 0.01, "<=", True),
])
def test_an_interval_that_straddles_the_threshold_is_not_shown(
        successes: int, threshold: float, comparison: str, shown: bool) -> None:
    details = rate_confidence(successes, 600, threshold, comparison)
    assert details["n"] == 600
    assert details["shown_at_95"] is shown
    assert interval_decides(wilson_interval(successes, 600), threshold, comparison) is shown


def test_rate_confidence_is_empty_without_data() -> None:
    assert rate_confidence(0, 0, 0.95, ">=") == {}


def _brute_u(x: list[int], y: list[int]) -> float:
    return sum(1.0 if a > b else 0.5 if a == b else 0.0 for a in x for b in y)


def _samples(seed: int, n: int, spread: int, shift: int = 0) -> list[int]:
    r = random.Random(seed)
    return [r.randint(1, spread) + shift for _ in range(n)]


@pytest.mark.parametrize(("seed", "n1", "n2", "spread", "shift"), [
    (1, 5, 4, 6, 0), (2, 6, 5, 4, 1), (3, 7, 3, 10, 2), (4, 4, 4, 3, 0), (5, 6, 6, 1000, 0),
])
def test_mann_whitney_equals_brute_force_and_the_permutation_variance(
        seed: int, n1: int, n2: int, spread: int, shift: int) -> None:
    """U is the pairwise count; the tie-corrected variance is the exact variance of U over
    every split of the pooled sample (which is what the correction claims to be)."""
    x, y = _samples(seed, n1, spread, shift), _samples(seed + 100, n2, spread)
    mw = mann_whitney(bins_of(x), bins_of(y))
    assert mw is not None
    assert mw.u == _brute_u(x, y)
    pooled = x + y
    us = [_brute_u([pooled[i] for i in chosen], [pooled[i] for i in range(len(pooled)) if i not in chosen])
          for chosen in itertools.combinations(range(len(pooled)), n1)]
    assert statistics.fmean(us) == pytest.approx(n1 * n2 / 2)
    assert mw.variance == pytest.approx(statistics.pvariance(us), rel=1e-9)
    z = max(0.0, abs(mw.u - n1 * n2 / 2) - 0.5) / math.sqrt(statistics.pvariance(us))
    assert mw.p_value == pytest.approx(math.erfc(z / math.sqrt(2)), rel=1e-9)


def test_mann_whitney_of_all_ties_and_of_an_empty_side() -> None:
    mw = mann_whitney([(5, 10)], [(5, 7)])
    assert mw is not None
    assert (mw.u, mw.p_value) == (35.0, 1.0)
    assert mann_whitney([], [(5, 7)]) is None
    separated = mann_whitney(bins_of(list(range(100, 130))), bins_of(list(range(30))))
    assert separated is not None
    assert separated.u == 30 * 30
    assert separated.p_value < 1e-9


@pytest.mark.parametrize(("seed", "n1", "n2", "spread", "shift"), [
    (1, 5, 4, 6, 0), (2, 6, 5, 4, 3), (3, 7, 3, 10, -2), (6, 9, 7, 50, 20), (7, 1, 1, 5, 0),
    (8, 40, 31, 10_000, 700),
])
def test_hodges_lehmann_equals_the_median_of_every_pairwise_difference(
        seed: int, n1: int, n2: int, spread: int, shift: int) -> None:
    x, y = _samples(seed, n1, spread, shift), _samples(seed + 100, n2, spread)
    assert hodges_lehmann(bins_of(x), bins_of(y)) == statistics.median(a - b for a in x for b in y)


def _accumulator(values_us: list[int]) -> HistogramAccumulator:
    acc = HistogramAccumulator()
    acc.add_encoded(encode_latencies_us(values_us))
    return acc


def _latencies(seed: int, n: int, mu: float) -> list[int]:
    r = random.Random(seed)
    return [int(r.lognormvariate(mu, 0.6)) for _ in range(n)]


def test_binned_shift_brackets_the_raw_shift_within_the_buckets() -> None:
    base, fault = _latencies(11, 900, 13.0), _latencies(12, 700, 13.15)  # ~440 ms vs ~510 ms
    raw = statistics.median(a - b for a in fault for b in base)
    ranges_f, ranges_b = histogram_ranges(_accumulator(fault)), histogram_ranges(_accumulator(base))
    found = binned_hodges_lehmann(ranges_f, ranges_b)
    assert found is not None
    mid, low, high = found
    assert low <= raw <= high
    assert low <= mid <= high
    widest = max(hi - lo + 1 for lo, hi, _ in [*ranges_f, *ranges_b])
    assert high - low <= widest
    assert raw == pytest.approx(mid, abs=widest)


def test_binned_mann_whitney_is_within_the_same_bucket_pairs_of_raw() -> None:
    base, fault = _latencies(21, 800, 13.0), _latencies(22, 600, 13.05)
    ranges_f, ranges_b = histogram_ranges(_accumulator(fault)), histogram_ranges(_accumulator(base))
    binned = mann_whitney(midpoints(ranges_f), midpoints(ranges_b))
    raw = mann_whitney(bins_of(fault), bins_of(base))
    assert binned is not None
    assert raw is not None
    per_bucket_b = {lo: c for lo, _, c in ranges_b}
    same_bucket_pairs = sum(c * per_bucket_b.get(lo, 0) for lo, _, c in ranges_f)
    assert abs(binned.u - raw.u) <= same_bucket_pairs / 2
    assert binned.p_value == pytest.approx(raw.p_value, abs=0.01)


def test_the_work_cap_merges_buckets_and_the_bounds_still_hold() -> None:
    base, fault = _latencies(31, 1500, 13.0), _latencies(32, 1200, 13.1)
    acc_b, acc_f = _accumulator(base), _accumulator(fault)
    assert len(histogram_ranges(acc_b)) > 64
    capped_b, capped_f = hl_ranges(acc_b, max_bins=64), hl_ranges(acc_f, max_bins=64)
    assert len(capped_b) <= 64
    assert len(capped_f) <= 64
    assert sum(c for _, _, c in capped_b) == len(base)
    found = binned_hodges_lehmann(capped_f, capped_b)
    assert found is not None
    raw = statistics.median(a - b for a in fault for b in base)
    assert found[1] <= raw <= found[2]


def _rates_builder(ok: int, shed: int) -> RecordingBuilder:
    """600 ended requests in a 60 s baseline: `ok` complete, `shed` 429 (10 a second)."""
    b = RecordingBuilder().phase("baseline", "baseline", 60, "X")
    per_second = [{"2xx": 10 - (1 if s < shed else 0), "429": 1 if s < shed else 0} for s in range(60)]
    for s, counts in enumerate(per_second):
        b.traffic(s, s + 1, counts)
    assert sum(c["2xx"] for c in per_second) == ok
    b.probe(0, 60)
    b.series("circuit_state", {"route": "primary"}, 0, 60, 0.0)
    b.series("queue_oldest_age_s", {}, 0, 60, 1.0)
    return b


def test_rate_criteria_carry_wilson_and_the_verdict_stays_the_thresholds() -> None:
    report = evaluate(EvaluationConfig(tier="X"), _rates_builder(ok=574, shed=26).build())
    ok = report.criterion("tier_x.rate_2xx@baseline")
    assert (ok.verdict, ok.details["numerator"], ok.details["n"]) == (Verdict.PASS, 574, 600)
    assert ok.details["wilson95"] == pytest.approx([0.9373, 0.9703], abs=1e-4)
    assert ok.details["shown_at_95"] is False
    shed = report.criterion("tier_x.rate_429@baseline")  # 4.3 % <= 5 %, interval 2.9-6.3 %
    assert (shed.verdict, shed.details["shown_at_95"]) == (Verdict.PASS, False)
    none_5xx = report.criterion("tier_x.rate_5xx@baseline")  # 0/600 cannot show <= 0.3 %
    assert (none_5xx.verdict, none_5xx.details["shown_at_95"]) == (Verdict.PASS, False)
    availability = report.criterion("tier_x.availability@baseline")
    assert availability.details["n"] == 60
    assert availability.details["wilson95"][1] == 1.0
    assert "wilson95" not in report.criterion("tier_x.p95_first_token@baseline").details


def test_594_of_600_is_shown_against_95_percent() -> None:
    """The brief's example: 99.0 % over 600 requests clears a 95 % minimum at 95 %."""
    report = evaluate(EvaluationConfig(tier="X"), _rates_builder(ok=594, shed=6).build())
    c = report.criterion("tier_x.rate_2xx@baseline")
    assert (c.verdict, c.details["shown_at_95"]) == (Verdict.PASS, True)
    assert c.details["wilson95"] == pytest.approx([0.9784, 0.9954], abs=1e-4)


def _fault_builder() -> RecordingBuilder:
    """Baseline 40 s, a 20 s fault slowing first tokens from 500 to 900 ms, recovery 20 s."""
    b = (RecordingBuilder().phase("baseline", "baseline", 40, "X")
         .phase("fault:slow", "fault", 20, "X", fault_id="slow")
         .phase("recovery", "recovery", 20, "X"))
    b.traffic(0, 40, {"2xx": 20}, first_token_ms=(480.0, 500.0, 520.0))
    b.traffic(40, 60, {"2xx": 20}, first_token_ms=(880.0, 900.0, 920.0))
    b.traffic(60, 80, {"2xx": 20}, first_token_ms=(480.0, 500.0, 520.0))
    b.probe(0, 80)
    b.series("circuit_state", {"route": "primary"}, 0, 80, 0.0)
    b.series("queue_oldest_age_s", {}, 0, 80, 1.0)
    b.fault("slow", "provider_latency", "primary", 40, 60)
    return b


def test_each_fault_phase_has_its_latency_shift_against_the_baseline() -> None:
    report = evaluate(EvaluationConfig(tier="X"), _fault_builder().build())
    shifts = {(s.scope, s.latency): s for s in report.latency_shift}
    assert set(shifts) == {("fault:slow", "first_token"), ("fault:slow", "completion")}
    first = shifts["fault:slow", "first_token"]
    assert (first.baseline, first.n_baseline, first.n_fault) == ("baseline", 800, 400)
    assert first.median_shift_ms == pytest.approx(400.0, abs=1.0)
    assert first.shift_low_ms is not None
    assert first.shift_high_ms is not None
    assert first.shift_low_ms <= 400.0 <= first.shift_high_ms
    assert first.p_value is not None
    assert first.p_value < 1e-12
    assert first.prob_slower == 1.0
    completion = shifts["fault:slow", "completion"]  # 5,000 ms throughout: no shift at all
    assert (completion.median_shift_ms, completion.p_value) == (0.0, 1.0)


def test_no_baseline_phase_means_no_latency_shift() -> None:
    b = RecordingBuilder().phase("fault:slow", "fault", 20, "X", fault_id="slow")
    b.traffic(0, 20, {"2xx": 10})
    assert evaluate(EvaluationConfig(tier="X"), b.build()).latency_shift == ()


def test_the_report_with_confidence_round_trips_through_json() -> None:
    report = evaluate(EvaluationConfig(tier="X"), _fault_builder().build())
    assert report.latency_shift
    data = json.loads(json.dumps(report.to_json()))
    assert Report.from_json(data) == report
    assert evaluate(EvaluationConfig(tier="X"), _fault_builder().build()) == report  # deterministic
    older = {k: v for k, v in data.items() if k != "latency_shift"}
    assert Report.from_json(older).latency_shift == ()


def _evidence(builder: RecordingBuilder) -> Evidence:
    config = EvaluationConfig(tier="X")
    inputs = {"evaluation": dataclasses.asdict(config) | {"overrides": {}},
              "drill": {"name": "d", "duration": "80s", "load": {"model": "closed", "streams": 10}}}
    return judge(builder.build(), config, drill="confidence", state="complete", inputs=inputs)[1]


def test_summary_and_report_flag_a_criterion_not_shown_at_95() -> None:
    evidence = _evidence(_rates_builder(ok=574, shed=26))
    text = render_summary(evidence)
    assert "PASS 95.67%, not shown at 95 %: n=600 (Wilson 93.73%-97.03%)" in text
    assert "PASS 95.67%, not shown at 95 %: n=600 (Wilson 93.73%-97.03%)" in render_html(evidence)
    sections = {s.title: s for s in report_sections(evidence)}
    assert any("not shown at 95 %" in cell for t in sections["Criteria by phase"].tables
               for row in t.rows for cell in row)
    lines = plain_report(evidence, exit_code=0)
    (line,) = [ln for ln in lines if "tier_x.rate_2xx@baseline" in ln]
    assert line.startswith("PASS")
    assert "not shown at 95 %: Wilson 93.73%-97.03%" in line


def test_summary_and_plain_lines_show_the_latency_shift_per_fault_phase() -> None:
    evidence = _evidence(_fault_builder())
    text = render_summary(evidence)
    assert "## Latency against baseline" in text
    assert "| fault:slow | first token | +400 ms |" in text
    page = render_html(evidence)
    assert "<h2>Latency against baseline</h2>" in page
    assert "<td>fault:slow</td><td>first token</td><td>+400 ms</td>" in page
    lines = plain_report(evidence, exit_code=0)
    assert any(ln.startswith("latency vs baseline, fault:slow: first token +400 ms (p<0.001") for ln in lines)
