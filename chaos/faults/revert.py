"""The revert policy shared by the session, the watchdog and `chaos cleanup`: targeted undo with
timeout and retries, then the broad fallback, repeated until a deadline; always shielded from
cancellation."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Literal

import anyio

from chaos.errors import ChaosError, ComponentStateLost, FaultError
from chaos.faults.executor import Executor
from chaos.faults.primitives import Primitive

RevertMethod = Literal["targeted", "broad"]
ROUND_PAUSE_S = 1.0  # between two rounds of attempts while a component is away


@dataclass(frozen=True, slots=True)
class RevertOutcome:
    """How one primitive was undone: the method, the attempts it took and how long."""

    method: RevertMethod
    attempts: int
    seconds: float


async def revert_primitive(executor: Executor, primitive: Primitive, *, attempts: int = 3,
                           timeout_s: float = 20.0, deadline: float | None = None) -> RevertMethod:
    """Undo one primitive; returns how. Raises FaultError only when the broad revert failed too
    (and, with a `deadline`, kept failing until it passed). See `revert_with_outcome`."""
    outcome = await revert_with_outcome(executor, primitive, attempts=attempts,
                                        timeout_s=timeout_s, deadline=deadline)
    return outcome.method


async def revert_with_outcome(executor: Executor, primitive: Primitive, *, attempts: int = 3,
                              timeout_s: float = 20.0,
                              deadline: float | None = None) -> RevertOutcome:
    """Undo one primitive: up to `attempts` targeted undos, then the broad one; with a
    `deadline` (monotonic seconds), the whole round is repeated until it passes, so a component
    that is away for a while (a restarting Toxiproxy, a frozen engine) is reverted when it is
    back. Each call is bounded by `timeout_s`, clipped to the deadline.

    Runs in a shielded cancel scope: a run being cancelled (SIGINT, SIGTERM, an abort) must
    still leave nothing behind. FaultError names the last errors when nothing worked;
    ComponentStateLost at once when the component no longer knows the target.
    """
    began = time.monotonic()
    tries = 0
    errors: list[str] = []
    with anyio.CancelScope(shield=True):
        while True:
            errors = []
            for attempt in range(attempts):
                if attempt:
                    await anyio.sleep(0.1 * attempt)
                tries += 1
                bound = _bounded(timeout_s, deadline)
                try:
                    with anyio.fail_after(bound):
                        await executor.revert(primitive)
                    return RevertOutcome("targeted", tries, time.monotonic() - began)
                except ComponentStateLost:
                    raise  # nothing to act on: no retry or broad revert brings it back
                except (ChaosError, TimeoutError) as exc:
                    errors.append(_short(exc, bound))
            tries += 1
            bound = _bounded(timeout_s * 2, deadline)
            try:
                with anyio.fail_after(bound):
                    await executor.revert_broad(primitive)
                return RevertOutcome("broad", tries, time.monotonic() - began)
            except (ChaosError, TimeoutError) as exc:
                errors.append(f"broad: {_short(exc, bound)}")
            if deadline is None or time.monotonic() + ROUND_PAUSE_S >= deadline:
                break
            await anyio.sleep(ROUND_PAUSE_S)
    spent = time.monotonic() - began
    raise FaultError(primitive.target, f"revert {primitive.kind}",
                     f"{tries} attempts over {spent:.1f}s; last: {errors[-1] if errors else '?'}"
                     + (f"; first: {errors[0]}" if len(errors) > 1 else ""))


def _bounded(timeout_s: float, deadline: float | None) -> float:
    """`timeout_s`, or less when the deadline is nearer (never below 1 s: a last try)."""
    if deadline is None:
        return timeout_s
    return max(1.0, min(timeout_s, deadline - time.monotonic()))


def _short(exc: BaseException, timeout_s: float) -> str:
    if isinstance(exc, TimeoutError):
        return f"no answer within {timeout_s:g}s"
    return str(exc)
