"""Running a fault proxy: in the foreground (`chaos fault-proxy`), or on a thread of the
calling process (tests, benchmarks, embedding)."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn

from chaos.faultproxy.app import FaultProxyApp, ProxyConfig


def uvicorn_config(app: FaultProxyApp, *, log_level: str = "warning") -> uvicorn.Config:
    c = app.config
    try:
        import uvloop  # noqa: F401  # the faster loop where it is installed

        loop = "uvloop"
    except ImportError:  # pragma: no cover - uvloop is a dependency except on Windows
        loop = "asyncio"
    # No `server`/`date` headers of our own: the upstream's pass through unchanged.
    return uvicorn.Config(app, host=c.listen_host, port=c.listen_port, loop=loop,
                          http="httptools", lifespan="on", access_log=False, log_level=log_level,
                          server_header=False, date_header=False, timeout_keep_alive=30,
                          backlog=4096)


def serve(config: ProxyConfig, *, log_level: str = "warning") -> None:
    """Serve until SIGINT/SIGTERM."""
    uvicorn.Server(uvicorn_config(FaultProxyApp(config), log_level=log_level)).run()


class RunningProxy:
    """A proxy served on a thread of this process; `url` is where clients send requests."""

    def __init__(self, app: FaultProxyApp, server: uvicorn.Server, thread: threading.Thread) -> None:
        self.app = app
        self._server = server
        self._thread = thread

    @property
    def url(self) -> str:
        c = self.app.config
        return f"http://{c.listen_host}:{c.listen_port}"

    @property
    def fault_url(self) -> str:
        """The switch's admin URL: what an environment's `http_fault` names."""
        return f"{self.url}/__chaos/fault"

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)


@contextmanager
def running_proxy(config: ProxyConfig, *, start_timeout_s: float = 10.0) -> Iterator[RunningProxy]:
    """Serve `config` on a thread until the block ends."""
    app = FaultProxyApp(config)
    server = uvicorn.Server(uvicorn_config(app))

    def run() -> None:  # the thread's own loop (uvicorn leaves signals to the main thread)
        asyncio.run(server.serve())

    thread = threading.Thread(target=run, name=f"fault-proxy-{config.listen_port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + start_timeout_s
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            raise RuntimeError(f"fault proxy on {config.listen_host}:{config.listen_port} did not start")
        time.sleep(0.01)
    handle = RunningProxy(app, server, thread)
    try:
        yield handle
    finally:
        handle.stop()
