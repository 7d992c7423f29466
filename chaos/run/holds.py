"""Phases after a hold: a held fault ran late, so its fault window as judged moves with it (the
phase before it grows, the recovery after it shrinks), when the drill's shape allows."""

from __future__ import annotations

from dataclasses import replace

from chaos.recording import Phase

MIN_RECOVERY_S = 1.0  # a recovery shorter than this after the shift is not judged on a shift


def shift_fault_phase(phases: tuple[Phase, ...], fault_id: str, late_s: float) -> tuple[Phase, ...] | None:
    """The phases with fault `fault_id`'s window `late_s` later; None when the shift does not
    fit (no single phase before it and recovery after it, another fault in the way, or too
    little recovery left): the caller then judges the window as scheduled and says so."""
    fault = [i for i, p in enumerate(phases) if p.kind == "fault" and p.fault_id == fault_id]
    if len(fault) != 1 or late_s <= 0:
        return None
    i = fault[0]
    p = phases[i]
    before = [j for j, q in enumerate(phases) if q.kind != "whole" and j != i and q.end == p.start]
    after = [j for j, q in enumerate(phases) if q.kind != "whole" and j != i and q.start == p.end]
    if len(before) != 1 or len(after) != 1:
        return None
    start, end = p.start + late_s, p.end + late_s
    nxt = phases[after[0]]
    if nxt.kind != "recovery" or end > nxt.end - MIN_RECOVERY_S:
        return None
    if any(q.kind == "fault" and k != i and q.start < end and q.end > p.start for k, q in enumerate(phases)):
        return None
    shifted = list(phases)
    shifted[before[0]] = replace(phases[before[0]], end=start)
    shifted[i] = replace(p, start=start, end=end)
    shifted[after[0]] = replace(nxt, start=end)
    return tuple(shifted)
