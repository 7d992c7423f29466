"""The `load` fixture's object: drive the real load driver at the environment's target for the
duration of a `with` block, and hand back what it recorded."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from anyio.from_thread import start_blocking_portal

from chaos.load.config import LoadConfig
from chaos.load.controller import LoadController
from chaos.load.statistics import LoadSummary
from chaos.recording import LoadWindow, MissingWindow
from chaos.spec import Environment
from chaos.spec.urls import join_url

MAX_BLOCK_S = 3600.0  # the load's schedule; the block's end stops it long before


@dataclass
class LoadRecording:
    """Windows as they arrive (readable inside the block); `summary` once the block ended."""

    windows: list[LoadWindow] = field(default_factory=list)
    missing: list[MissingWindow] = field(default_factory=list)
    summary: LoadSummary | None = None

    def count(self, status_class: str) -> int:
        """Requests that ended with `status_class` ("2xx", "429", "5xx", "transport", ...)."""
        return sum(w.counts.get(status_class, 0) for w in self.windows)

    @property
    def requests(self) -> int:
        return sum(sum(w.counts.values()) for w in self.windows)


def env_load_config(env: Environment, *, streams: int, workers: int, think_time_s: float,
                    message: str, run_id: str) -> LoadConfig:
    """A closed-model load at the environment's chat endpoint, with its auth and host guard."""
    from chaos.run.plan import env_hosts, expand_headers
    from chaos.spec import expand_env

    auth = env.target.auth
    base = expand_env(env.target.base_url, where="target.base_url")
    return LoadConfig(
        url=join_url(base, env.target.chat_path_resolved),
        token_template=expand_env(auth.token, where="target.auth.token") if auth else "",
        subjects=auth.subjects if auth else 1, message=message, model="closed", streams=streams,
        think_time_s=think_time_s, hold_s=MAX_BLOCK_S, workers=workers, run_id=run_id,
        region_header=env.target.region_header or "x-served-by-region",
        allowed_hosts=env_hosts(env), protocol=env.target.profile(),
        headers=expand_headers(env.target.headers, "target.headers"),
    )


class LoadDriver:
    """`with load(streams=5) as rec:` runs the load while the block runs, then stops it
    (in-flight streams get the driver's graceful time) and fills `rec.summary`."""

    def __init__(self, env: Environment, run_id: str) -> None:
        self._env = env
        self._run_id = run_id

    @contextmanager
    def __call__(self, *, streams: int = 5, workers: int = 1, think_time_s: float = 0.0,
                 message: str = "hi", startup_s: float = 0.5) -> Iterator[LoadRecording]:
        config = env_load_config(self._env, streams=streams, workers=workers, think_time_s=think_time_s,
                                 message=message, run_id=self._run_id)
        recording = LoadRecording()
        controller = LoadController(config, recording.windows.append, recording.missing.append,
                                    startup_s=startup_s)
        with start_blocking_portal(backend="asyncio") as portal:
            future = portal.start_task_soon(controller.run)
            try:
                yield recording
            finally:
                portal.call(controller.stop)
                recording.summary = future.result()
