"""A circuit breaker per provider route: closed -> open -> half-open -> closed."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum


class CircuitState(Enum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"

    @property
    def metric_value(self) -> float:
        """The `provider_circuit_state` gauge value: 0 closed, 1 open, 0.5 half-open."""
        return {"closed": 0.0, "open": 1.0, "half_open": 0.5}[self.value]


@dataclass(frozen=True)
class CircuitStatistics:
    route: str
    state: CircuitState
    consecutive_failures: int
    probes_in_flight: int
    transitions: dict[str, int]  # "closed->open" -> count


class CircuitBreaker:
    """Opens after `failure_threshold` consecutive failures; after `open_duration_s` lets
    `half_open_probes` trial calls through; closes when that many succeed, re-opens on a failure.

    Callers ask `allow()` before a call (`allow_check()` before an active health check) and
    report it with `record_success()` or `record_failure()` (or `release()` when the call was
    abandoned without an outcome).
    """

    def __init__(self, route: str, *, failure_threshold: int, open_duration_s: float,
                 half_open_probes: int, clock: Callable[[], float] = time.monotonic,
                 on_change: Callable[[CircuitBreaker, CircuitState, CircuitState], None] | None = None) -> None:
        self.route = route
        self._threshold = failure_threshold
        self._open_s = open_duration_s
        self._probes = half_open_probes
        self._clock = clock
        self._on_change = on_change
        self._state = CircuitState.CLOSED
        self._failures = 0
        self._opened_at = 0.0
        self._in_flight = 0  # Invariant: only counts trial calls admitted in half-open
        self._probe_successes = 0
        self._transitions: dict[str, int] = {}

    @property
    def state(self) -> CircuitState:
        if self._state is CircuitState.OPEN and self._clock() - self._opened_at >= self._open_s:
            self._move(CircuitState.HALF_OPEN)
        return self._state

    def allow(self) -> bool:
        state = self.state
        if state is CircuitState.CLOSED:
            return True
        if state is CircuitState.HALF_OPEN and self._in_flight < self._probes:
            self._in_flight += 1
            return True
        return False

    def allow_check(self) -> bool:
        """Whether an active health check may run now, taking a trial slot like `allow()`:
        only past the open duration (half-open). Never while closed - user traffic is the
        signal then - nor while still open. Report it like a trial call."""
        return self.state is CircuitState.HALF_OPEN and self.allow()

    def record_success(self) -> None:
        state = self.state
        self._failures = 0
        if state is CircuitState.HALF_OPEN:
            self._in_flight = max(0, self._in_flight - 1)
            self._probe_successes += 1
            if self._probe_successes >= self._probes:
                self._move(CircuitState.CLOSED)

    def record_failure(self) -> None:
        state = self.state
        self._failures += 1
        if state is CircuitState.HALF_OPEN or (
            state is CircuitState.CLOSED and self._failures >= self._threshold
        ):
            self._move(CircuitState.OPEN)

    def release(self) -> None:
        """An admitted call ended without an outcome (client went away): free its probe slot."""
        if self._state is CircuitState.HALF_OPEN:
            self._in_flight = max(0, self._in_flight - 1)

    def _move(self, new: CircuitState) -> None:
        old = self._state
        if new is old:
            return
        self._state = new
        key = f"{old.value}->{new.value}"
        self._transitions[key] = self._transitions.get(key, 0) + 1
        if new is CircuitState.OPEN:
            self._opened_at = self._clock()
        if new is not CircuitState.CLOSED or old is not CircuitState.CLOSED:
            self._in_flight = 0
            self._probe_successes = 0
        if new is CircuitState.CLOSED:
            self._failures = 0
        if self._on_change is not None:
            self._on_change(self, old, new)

    def statistics(self) -> CircuitStatistics:
        return CircuitStatistics(self.route, self.state, self._failures, self._in_flight,
                                 dict(self._transitions))
