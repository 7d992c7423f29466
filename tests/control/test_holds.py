"""A held fault's window as judged moves with it when the drill's shape allows."""

from __future__ import annotations

from chaos.recording import Phase
from chaos.run.holds import shift_fault_phase

PHASES = (
    Phase("whole", "whole", 0.0, 30.0),
    Phase("ramp_up", "ramp_up", 0.0, 2.0),
    Phase("baseline", "baseline", 2.0, 6.0, tier="L"),
    Phase("fault:f", "fault", 6.0, 15.0, tier="L", fault_id="f"),
    Phase("recovery", "recovery", 15.0, 29.0, tier="L"),
    Phase("ramp_down", "ramp_down", 29.0, 30.0),
)


def _spans(phases: tuple[Phase, ...]) -> dict[str, tuple[float, float]]:
    return {p.name: (p.start, p.end) for p in phases}


def test_the_fault_window_moves_the_baseline_grows_the_recovery_shrinks() -> None:
    shifted = shift_fault_phase(PHASES, "f", 4.0)
    assert shifted is not None
    assert _spans(shifted) == {"whole": (0.0, 30.0), "ramp_up": (0.0, 2.0), "baseline": (2.0, 10.0),
                               "fault:f": (10.0, 19.0), "recovery": (19.0, 29.0), "ramp_down": (29.0, 30.0)}


def test_no_shift_when_too_little_recovery_is_left_or_the_fault_is_unknown() -> None:
    assert shift_fault_phase(PHASES, "f", 13.5) is None  # recovery would be < 1 s
    assert shift_fault_phase(PHASES, "other", 1.0) is None
    assert shift_fault_phase(PHASES, "f", 0.0) is None


def test_no_shift_into_another_fault() -> None:
    phases = (*PHASES[:4], Phase("fault:g", "fault", 15.0, 20.0, fault_id="g"),
              Phase("recovery", "recovery", 20.0, 29.0))
    assert shift_fault_phase(phases, "f", 2.0) is None
