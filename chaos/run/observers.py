"""Starts the run's observers inside its task group: the metrics observer (circuit, queue,
region, Redis, hard failures) and the availability prober, both feeding the recorder."""

from __future__ import annotations

import time

from anyio.abc import TaskGroup

from chaos.observe import AvailabilityProber, MetricsObserver, ObserverConfig
from chaos.run.plan import DEFAULT_REGION_HEADER, expand_headers
from chaos.run.recorder import Recorder
from chaos.spec import Drill, Environment, expand_env

PROBE_INTERVAL_S = 1.0  # DESIGN section 4: health + canary chat every second
# A canary chat answers in first-token delay + its tokens (about 1.2 s on the default testbed) and
# a shared machine adds queueing: 5 s bounds a probe without calling a slow answer unavailable.
# Probes overlap (one starts every second), so a slow canary does not leave probe gaps.
PROBE_TIMEOUT_S = 5.0


def start_observers(tg: TaskGroup, env: Environment, drill: Drill, recorder: Recorder, *, run_id: str) -> None:
    del drill, run_id  # every observation is the environment's
    metrics = env.metrics
    queries = {name: str(value) for name, value in metrics.queries.model_dump().items()}
    observer = MetricsObserver(
        ObserverConfig(
            scrape_urls=tuple(expand_env(u) for u in metrics.scrape),
            prometheus_url=expand_env(metrics.prometheus) if metrics.prometheus else None,
            queries=queries,
            interval_s=metrics.interval.total_seconds(),
            timeout_s=metrics.timeout.total_seconds(),
            headers=expand_headers(metrics.headers, "metrics.headers"),
        ),
        emit=recorder.add_sample,
        clock=time.time,
    )
    target = env.target
    token = expand_env(target.auth.token).replace("{subject}", "canary") if target.auth else None
    prober = AvailabilityProber(
        expand_env(target.base_url),
        recorder.add_probe,
        health_path=target.health_path,
        chat_path=target.chat_path_resolved,
        token=token,
        region_header=target.region_header or DEFAULT_REGION_HEADER,
        profile=target.profile(),
        headers=expand_headers(target.headers, "target.headers"),
        interval_s=PROBE_INTERVAL_S,
        timeout_s=PROBE_TIMEOUT_S,
    )
    tg.start_soon(observer.run)
    tg.start_soon(prober.run)
