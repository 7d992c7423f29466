"""Polling a condition with a deadline (how every fault effect is verified)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import anyio

from chaos.errors import FaultError


async def wait_until(check: Callable[[], Awaitable[bool]], *, timeout_s: float, target: str,
                     action: str, what: str, interval_s: float = 0.01) -> None:
    """Poll `check` until true; FaultError(target, action) naming `what` after `timeout_s`."""
    deadline = anyio.current_time() + timeout_s
    delay = interval_s
    while True:
        if await check():
            return
        if anyio.current_time() >= deadline:
            raise FaultError(target, action, f"not verified after {timeout_s:g}s: {what}")
        await anyio.sleep(delay)
        delay = min(delay * 1.5, 0.2)
