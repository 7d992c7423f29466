"""PromQL abort conditions: each query polled against the environment's Prometheus API every
few seconds (each request bounded); a condition fires once it held continuously for `for`."""

from __future__ import annotations

import time
from dataclasses import dataclass

import anyio
import httpx

POLL_S = 2.0
QUERY_TIMEOUT_S = 5.0


@dataclass(frozen=True, slots=True)
class PromqlCondition:
    name: str
    query: str
    above: float | None = None
    below: float | None = None
    for_s: float = 0.0

    def violated(self, values: list[float]) -> bool | None:
        """True/False; None when unknown (no series, with a threshold: a gap)."""
        if self.above is None and self.below is None:
            return any(v > 0 for v in values)
        if not values:
            return None
        if self.above is not None:
            return max(values) > self.above
        assert self.below is not None
        return min(values) < self.below

    def describe(self) -> str:
        if self.above is not None:
            return f"{self.query} > {self.above:g}"
        if self.below is not None:
            return f"{self.query} < {self.below:g}"
        return f"{self.query} (any result > 0)"


def vector_values(doc: object) -> list[float]:
    """The sample values of an instant query's answer (vector or scalar)."""
    if not isinstance(doc, dict) or doc.get("status") != "success":
        raise ValueError(f"not a successful query answer: {str(doc)[:200]}")
    data = doc.get("data") or {}
    result = data.get("result")
    if data.get("resultType") == "scalar" and isinstance(result, list):
        return [float(result[1])]
    if not isinstance(result, list):
        raise ValueError("no result list")
    return [float(s["value"][1]) for s in result]


class PromqlWatch:
    """Fires `fired` when any condition held; `reason` names it and its query."""

    def __init__(self, conditions: tuple[PromqlCondition, ...], prometheus_url: str | None,
                 headers: tuple[tuple[str, str], ...] = (), *, poll_s: float = POLL_S,
                 timeout_s: float = QUERY_TIMEOUT_S) -> None:
        self.conditions, self._url = conditions, (prometheus_url or "").rstrip("/")
        self._headers, self._poll_s, self._timeout_s = dict(headers), poll_s, timeout_s
        self._since: dict[str, float | None] = {c.name: None for c in conditions}
        self.fired = anyio.Event()
        self.reason = ""
        self.errors = 0  # queries that failed or timed out (a gap: neither starts nor breaks a streak)

    async def run(self) -> None:
        if not self.conditions or not self._url:
            return
        async with httpx.AsyncClient(timeout=self._timeout_s, headers=self._headers) as client:
            while not self.fired.is_set():
                for c in self.conditions:
                    await self._check(client, c)
                    if self.fired.is_set():
                        return
                await anyio.sleep(self._poll_s)

    async def _check(self, client: httpx.AsyncClient, c: PromqlCondition) -> None:
        now = time.time()
        try:
            response = await client.get(f"{self._url}/api/v1/query", params={"query": c.query})
            values = vector_values(response.json())
        except (httpx.HTTPError, ValueError, KeyError, TypeError, IndexError):
            self.errors += 1
            return
        violated = c.violated(values)
        if violated is None:
            return
        if not violated:
            self._since[c.name] = None
            return
        since = self._since[c.name]
        if since is None:
            since = self._since[c.name] = now
        held = now - since
        if held >= c.for_s:
            shown = ", ".join(f"{v:g}" for v in values[:5])
            self.reason = (f"abort condition {c.name}: promql {c.describe()} held {held:.1f}s "
                           f"(values {shown or 'none'})")
            self.fired.set()
