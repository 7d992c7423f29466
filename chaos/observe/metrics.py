"""`MetricsObserver`: samples circuit, queue, region and hard-failure series every interval from
Prometheus text endpoints and/or a Prometheus HTTP API; a failed source yields gaps, never zeros."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

import anyio
import httpx
from prometheus_client.parser import text_string_to_metric_families

from chaos.observe.selector import parse_selector
from chaos.recording import Sample

DEFAULT_QUERIES: Mapping[str, str] = MappingProxyType({
    "circuit_state": "provider_circuit_state",
    "queue_oldest_age_s": "queue_oldest_job_age_seconds",
    "queue_depth": "queue_depth",
    "active_region": "router_active_region",
    "failovers_total": "router_failovers_total",
    "redis_up": "redis_up",
    "hard_failures": 'chat_requests_total{code=~"redis_unavailable|invalid_token|gateway_unhealthy"}',
})

LabelKey = tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class ObserverConfig:
    scrape_urls: tuple[str, ...] = ()
    prometheus_url: str | None = None
    queries: Mapping[str, str] = field(default_factory=lambda: DEFAULT_QUERIES)
    interval_s: float = 1.0
    timeout_s: float = 0.8
    headers: tuple[tuple[str, str], ...] = ()  # on every scrape and query (bearer tokens, keys)


@dataclass(frozen=True, slots=True)
class ObserverStatistics:
    ticks: int
    source_requests: int
    source_failures: int
    samples: int
    gaps: int
    missed_ticks: int  # intervals skipped because a tick overran
    last_failure: str | None


class MetricsObserver:
    """Every `interval_s`: one timestamp from `clock`, all sources fetched concurrently, one
    Sample per matched series. Series once seen (or a label-less placeholder) become gaps
    (value None) when their source fails or stops exposing them."""

    def __init__(self, config: ObserverConfig, emit: Callable[[Sample], None],
                 clock: Callable[[], float] = time.time,
                 client: httpx.AsyncClient | None = None) -> None:
        self.config = config
        self.emit = emit
        self.clock = clock
        self._client = client
        self._selectors = {name: parse_selector(q) for name, q in config.queries.items()} \
            if config.scrape_urls else {}
        self._seen: dict[tuple[str, str], set[LabelKey]] = {}
        self._ticks = self._requests = self._failures = self._samples = self._gaps = 0
        self._missed = 0
        self._last_failure: str | None = None

    def statistics(self) -> ObserverStatistics:
        return ObserverStatistics(self._ticks, self._requests, self._failures, self._samples,
                                  self._gaps, self._missed, self._last_failure)

    async def run(self) -> None:
        """Sample until cancelled, on a fixed monotonic schedule."""
        async with self._client_scope() as client:
            start = time.monotonic()
            tick = 0
            while True:
                await self.sample_once(client)
                now = time.monotonic()
                next_tick = math.floor((now - start) / self.config.interval_s) + 1
                self._missed += max(0, next_tick - tick - 1)
                tick = next_tick
                await anyio.sleep(max(0.0, start + tick * self.config.interval_s - time.monotonic()))

    async def sample_once(self, client: httpx.AsyncClient | None = None) -> None:
        """One tick: every source, one timestamp."""
        if client is None:
            async with self._client_scope() as own:
                await self.sample_once(own)
            return
        self._ticks += 1
        t = self.clock()
        async with anyio.create_task_group() as tg:
            for url in self.config.scrape_urls:
                tg.start_soon(self._scrape, client, url, t)
            if self.config.prometheus_url is not None:
                for name, query in self.config.queries.items():
                    tg.start_soon(self._query, client, name, query, t)

    def _client_scope(self) -> _ClientScope:
        return _ClientScope(self._client, self.config.timeout_s)

    async def _fetch(self, client: httpx.AsyncClient, url: str,
                     params: Mapping[str, str] | None = None) -> httpx.Response | None:
        self._requests += 1
        try:
            with anyio.fail_after(self.config.timeout_s):
                response = await client.get(url, params=params, timeout=self.config.timeout_s,
                                            headers=dict(self.config.headers))
        except TimeoutError:
            self._fail(f"{url}: timed out after {self.config.timeout_s:g} s")
            return None
        except httpx.HTTPError as exc:
            self._fail(f"{url}: {type(exc).__name__}: {exc}")
            return None
        if response.status_code != 200:
            self._fail(f"{url}: HTTP {response.status_code}")
            return None
        return response

    def _fail(self, why: str) -> None:
        self._failures += 1
        self._last_failure = why

    async def _scrape(self, client: httpx.AsyncClient, url: str, t: float) -> None:
        response = await self._fetch(client, url)
        found: dict[str, dict[LabelKey, float]] = {name: {} for name in self._selectors}
        if response is not None:
            try:
                families = list(text_string_to_metric_families(response.text))
            except ValueError as exc:
                self._fail(f"{url}: unparseable exposition: {exc}")
                families = None
            if families is not None:
                for family in families:
                    for s in family.samples:
                        for name, sel in self._selectors.items():
                            if sel.matches(s.name, s.labels):
                                found[name][tuple(sorted(s.labels.items()))] = float(s.value)
            else:
                response = None
        for name in self._selectors:
            self._emit_source(name, url, t, None if response is None else found[name])

    async def _query(self, client: httpx.AsyncClient, name: str, query: str, t: float) -> None:
        assert self.config.prometheus_url is not None
        url = self.config.prometheus_url.rstrip("/") + "/api/v1/query"
        response = await self._fetch(client, url, {"query": query, "time": f"{t:.3f}"})
        values: dict[LabelKey, float] | None = None
        if response is not None:
            try:
                body = response.json()
                if body.get("status") != "success":
                    raise ValueError(f"status {body.get('status')}: {body.get('error', '')}")
                data = body["data"]
                if data["resultType"] == "scalar":
                    values = {(): float(data["result"][1])}
                else:
                    values = {}
                    for item in data["result"]:
                        labels = {k: v for k, v in item["metric"].items() if k != "__name__"}
                        values[tuple(sorted(labels.items()))] = float(item["value"][1])
            except (ValueError, KeyError, TypeError, IndexError) as exc:
                self._fail(f"{url} {query!r}: bad response: {exc}")
                values = None
        self._emit_source(name, f"promql:{query}", t, values)

    def _emit_source(self, name: str, source: str, t: float,
                     values: dict[LabelKey, float] | None) -> None:
        seen = self._seen.setdefault((name, source), set())
        if values:
            for key, value in values.items():
                if math.isnan(value):
                    self._gap(name, key, source, t)
                    continue
                seen.add(key)
                self._samples += 1
                self.emit(Sample(t, name, dict(key), value, source))
        expected = (seen - set(values or {})) if seen else ({()} if not values else set())
        for key in sorted(expected):
            self._gap(name, key, source, t)

    def _gap(self, name: str, key: LabelKey, source: str, t: float) -> None:
        self._gaps += 1
        self.emit(Sample(t, name, dict(key), None, source))


class _ClientScope:
    """Use the given client, or own one for the duration."""

    def __init__(self, client: httpx.AsyncClient | None, timeout_s: float) -> None:
        self._given = client
        self._own: httpx.AsyncClient | None = None
        self._timeout_s = timeout_s

    async def __aenter__(self) -> httpx.AsyncClient:
        if self._given is not None:
            return self._given
        self._own = httpx.AsyncClient(timeout=self._timeout_s)
        return self._own

    async def __aexit__(self, *exc: object) -> None:
        if self._own is not None:
            await self._own.aclose()
