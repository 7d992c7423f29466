"""Steady-state checks: conditions that must hold before faults start and after recovery."""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from dataclasses import dataclass

import anyio
import httpx
from prometheus_client.parser import text_string_to_metric_families

from chaos.spec import Environment, SteadyStateCheck, expand_env
from chaos.spec.urls import join_url

_SELECTOR = re.compile(r'^\s*([A-Za-z_:][A-Za-z0-9_:]*)\s*(?:\{(.*)\})?\s*$')
_MATCHER = re.compile(r'\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*"([^"]*)"\s*,?')


@dataclass(frozen=True, slots=True)
class SteadyResult:
    name: str
    ok: bool
    measured: float | None  # metric value, or the HTTP status
    detail: str


def _selector(env: Environment, metric: str) -> tuple[str, dict[str, str]]:
    """A logical query name (circuit_state, ...) or a plain selector -> (name, labels)."""
    text = getattr(env.metrics.queries, metric, metric)
    m = _SELECTOR.match(str(text))
    if m is None:
        return str(text), {}
    return m.group(1), dict(_MATCHER.findall(m.group(2) or ""))


async def _metric_values(client: httpx.AsyncClient, env: Environment, name: str, labels: Mapping[str, str]) -> list[float]:
    """The series' values from the scrape targets (a page that does not parse counts as
    absent), else from `metrics.prometheus`."""
    values = [v for _, v in await metric_series(client, env, name, labels)]
    if not values and env.metrics.prometheus:
        headers = {k: expand_env(v) for k, v in env.metrics.headers.items()}
        matchers = ",".join(f'{k}="{v}"' for k, v in labels.items())
        try:
            response = await client.get(
                expand_env(env.metrics.prometheus).rstrip("/") + "/api/v1/query",
                params={"query": f"{name}{{{matchers}}}"}, headers=headers,
            )
            values.extend(float(row["value"][1]) for row in response.json().get("data", {}).get("result", []))
        except (httpx.HTTPError, ValueError, KeyError, TypeError, AttributeError):
            pass
    return values


async def check_once(client: httpx.AsyncClient, env: Environment, check: SteadyStateCheck) -> SteadyResult:
    if check.http is not None:
        url = check.http.url or join_url(expand_env(env.target.base_url), check.http.path or "/")
        url = expand_env(url)
        try:
            response = await client.get(url)
        except httpx.HTTPError as exc:
            return SteadyResult(check.name, False, None, f"GET {url}: {type(exc).__name__}")
        ok = response.status_code == check.http.expect_status
        return SteadyResult(check.name, ok, float(response.status_code),
                            f"GET {url} answered {response.status_code}, expected {check.http.expect_status}")
    assert check.metric is not None  # Invariant: exactly one of http/metric (validated)
    name, labels = _selector(env, check.metric)
    labels.update(check.labels)
    values = await _metric_values(client, env, name, labels)
    if not values:
        return SteadyResult(check.name, False, None, f"no value for {name}{labels or ''}")
    worst = max(values) if check.below is not None else min(values)
    ok = (check.below is None or worst < check.below) and (check.above is None or worst > check.above)
    bound = f"< {check.below:g}" if check.below is not None else f"> {check.above:g}"
    return SteadyResult(check.name, ok, worst, f"{name}{labels or ''} = {worst:g}, needs {bound}")


CIRCUITS_CHECK = "circuits-closed"


async def check_circuits_closed(client: httpx.AsyncClient, env: Environment) -> SteadyResult:
    """Every provider circuit the metrics expose is closed (0). A circuit left open or
    half-open (an idle breaker waiting for traffic) would be judged as part of this drill.
    Where the target exposes no circuit state, the check holds (the circuit criteria say
    INCONCLUSIVE, and preflight names the missing series)."""
    name, labels = _selector(env, "circuit_state")
    series = await metric_series(client, env, name, labels)
    if not series:
        return SteadyResult(CIRCUITS_CHECK, True, None,
                            f"no {name} series exposed: circuit limits will be INCONCLUSIVE")
    not_closed = [(lbl, v) for lbl, v in series if v != 0.0]
    if not not_closed:
        return SteadyResult(CIRCUITS_CHECK, True, 0.0, f"all {len(series)} circuits closed")
    worst_labels, worst = max(not_closed, key=lambda item: item[1])
    state = "open" if worst >= 1.0 else "half-open"
    where = " ".join(f"{k}={v}" for k, v in sorted(worst_labels.items())) or name
    more = f" (and {len(not_closed) - 1} more)" if len(not_closed) > 1 else ""
    return SteadyResult(CIRCUITS_CHECK, False, worst, (
        f"circuit {where} is {state} ({worst:g}){more} before the drill: wait until it closes "
        f"(an idle half-open breaker needs a health check or one successful request), or "
        f"reset the target's breakers, then run again"))


async def metric_series(client: httpx.AsyncClient, env: Environment, name: str,
                         labels: Mapping[str, str]) -> list[tuple[dict[str, str], float]]:
    out: list[tuple[dict[str, str], float]] = []
    headers = {k: expand_env(v) for k, v in env.metrics.headers.items()}
    for url in env.metrics.scrape:
        try:
            response = await client.get(expand_env(url), headers=headers)
        except httpx.HTTPError:
            continue
        if response.status_code != 200:
            continue
        try:
            families = list(text_string_to_metric_families(response.text))
        except ValueError:
            continue
        out.extend(
            (dict(s.labels), float(s.value))
            for family in families for s in family.samples
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())
        )
    return out


async def wait_steady_state(
    env: Environment, checks: tuple[SteadyStateCheck, ...], *, timeout_s: float,
    interval_s: float = 0.5, circuits: bool = True,
) -> list[SteadyResult]:
    """Poll every check (and, with `circuits`, that every provider circuit is closed) until
    all hold together or the deadline passes; the last results. The circuit check's result
    says how long the wait took (time to recovery, after a drill)."""
    results: list[SteadyResult] = []
    started = time.monotonic()
    deadline = started + timeout_s
    async with httpx.AsyncClient(timeout=2.0) as client:
        while True:
            results = [await check_once(client, env, c) for c in checks]
            if circuits:
                results.append(await check_circuits_closed(client, env))
            if all(r.ok for r in results) or time.monotonic() >= deadline:
                waited = time.monotonic() - started
                return [r if r.name != CIRCUITS_CHECK else
                        SteadyResult(r.name, r.ok, r.measured, f"{r.detail} (waited {waited:.1f} s)")
                        for r in results]
            await anyio.sleep(interval_s)
