"""The revert policy shared by the session, the watchdog and `chaos cleanup`: targeted undo with
timeout and retries, then the broad fallback; always shielded from cancellation."""

from __future__ import annotations

from typing import Literal

import anyio

from chaos.errors import ChaosError, FaultError
from chaos.faults.executor import Executor
from chaos.faults.primitives import Primitive

RevertMethod = Literal["targeted", "broad"]


async def revert_primitive(executor: Executor, primitive: Primitive, *, attempts: int = 3,
                           timeout_s: float = 20.0) -> RevertMethod:
    """Undo one primitive; returns how. Raises FaultError only when the broad revert failed too.

    Runs in a shielded cancel scope: a run being cancelled (SIGINT, SIGTERM, an abort) must
    still leave nothing behind. Each attempt is bounded by `timeout_s`.
    """
    errors: list[str] = []
    with anyio.CancelScope(shield=True):
        for attempt in range(attempts):
            if attempt:
                await anyio.sleep(0.1 * attempt)
            try:
                with anyio.fail_after(timeout_s):
                    await executor.revert(primitive)
                return "targeted"
            except (ChaosError, TimeoutError) as exc:
                errors.append(_short(exc, timeout_s))
        try:
            with anyio.fail_after(timeout_s * 2):
                await executor.revert_broad(primitive)
            return "broad"
        except (ChaosError, TimeoutError) as exc:
            errors.append(f"broad: {_short(exc, timeout_s * 2)}")
    raise FaultError(primitive.target, f"revert {primitive.kind}", "; ".join(errors))


def _short(exc: BaseException, timeout_s: float) -> str:
    if isinstance(exc, TimeoutError):
        return f"timed out after {timeout_s:g}s"
    return str(exc)
