"""The timeline: phases as offsets from the load start, following the contract's rules."""

from __future__ import annotations

from pathlib import Path

import pytest

from chaos.errors import SpecError
from chaos.spec import build_timeline, load_drill, parse_drill

ROOT = Path(__file__).resolve().parents[2]

BASE = """version: 1
name: t
tier: G
duration: 10m
load: {streams: 10, ramp_up: 30s, ramp_down: 30s}
"""


def fault(fid: str, target: str, at: str, length: str, extra: str = "") -> str:
    return (f"  - {{id: {fid}, scenario: region_failover, target: {target}, mode: network,"
            f" at: {at}, for: {length}{extra}}}\n")


def spans(text: str, scale: float = 1.0) -> list[tuple[str, float, float, str | None]]:
    timeline = build_timeline(parse_drill(text), scale)
    return [(p.name, p.start_s, p.end_s, p.tier) for p in timeline.phases]


def test_reference_drill_timeline() -> None:
    timeline = build_timeline(load_drill(ROOT / "experiments" / "regional-failover-unplanned.yaml"))
    assert [(p.name, p.start_s, p.end_s) for p in timeline.phases] == [
        ("ramp_up", 0, 30), ("baseline", 30, 180), ("fault:us-east-down", 180, 300),
        ("recovery", 300, 470), ("ramp_down", 470, 480)]


def test_no_faults_means_baseline_until_ramp_down() -> None:
    assert spans(BASE) == [("ramp_up", 0, 30, None), ("baseline", 30, 570, "G"), ("ramp_down", 570, 600, None)]


def test_gaps_between_faults_are_recovery_phases_and_fault_tier_applies() -> None:
    text = BASE + "faults:\n" + fault("a", "us-east", "2m", "1m", ", tier: L") + fault("b", "us-west", "5m", "1m")
    assert spans(text) == [
        ("ramp_up", 0, 30, None), ("baseline", 30, 120, "G"), ("fault:a", 120, 180, "L"),
        ("between:a..b", 180, 300, "G"), ("fault:b", 300, 360, "G"), ("recovery", 360, 570, "G"),
        ("ramp_down", 570, 600, None)]


def test_overlapping_faults_share_a_cluster_without_between_phase() -> None:
    text = BASE + "faults:\n" + fault("a", "us-east", "2m", "2m") + fault("b", "us-west", "3m", "2m")
    names = [s[0] for s in spans(text)]
    assert names == ["ramp_up", "baseline", "fault:a", "fault:b", "recovery", "ramp_down"]
    assert spans(text)[4][1] == 300


def test_time_scale_multiplies_every_offset() -> None:
    text = BASE + "faults:\n" + fault("a", "us-east", "2m", "1m")
    assert spans(text, 0.05) == [
        ("ramp_up", 0, 1.5, None), ("baseline", 1.5, 6, "G"), ("fault:a", 6, 9, "G"),
        ("recovery", 9, pytest.approx(28.5), "G"), ("ramp_down", pytest.approx(28.5), 30, None)]


def test_open_model_estimates_request_volume() -> None:
    text = BASE.replace("{streams: 10,", "{model: open, rate: 100,")
    volume = build_timeline(parse_drill(text)).volume
    assert volume.requests == 100 * (600 - 30)  # ramps carry half their length
    assert "100/s" in volume.description


def test_minimum_recovery_length_is_enforced() -> None:
    text = BASE + "phases: {recovery: 5m}\nfaults:\n" + fault("a", "us-east", "2m", "4m")
    with pytest.raises(SpecError, match="leaves 3m30s of recovery, less than the required 5m"):
        parse_drill(text)


def test_time_scale_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        build_timeline(parse_drill(BASE), 0)
