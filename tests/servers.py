"""Real servers for tests: redis-server and toxiproxy-server on free loopback ports.

Nothing here is a mock. A missing binary is a test *failure* with a clear message
(run `scripts/setup.sh`), never a silent skip.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import httpx
import pytest


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def free_ports(n: int) -> list[int]:
    """`n` distinct free ports: all sockets stay bound until every port is chosen, so the
    kernel cannot hand out one port twice (separate `free_port()` calls sometimes do)."""
    socks = [socket.socket(socket.AF_INET, socket.SOCK_STREAM) for _ in range(n)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [int(s.getsockname()[1]) for s in socks]
    finally:
        for s in socks:
            s.close()


def require_binary(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(
            f"{name} is not on PATH: run `bash scripts/setup.sh` to install the real component",
            pytrace=False,
        )
    return path


def wait_for(condition: Callable[[], bool], timeout_s: float, what: str) -> None:
    """Poll `condition` until it is true or the deadline passes (then fail naming `what`)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if condition():
                return
        except (OSError, httpx.HTTPError):
            pass
        time.sleep(0.02)
    raise TimeoutError(f"{what} not ready after {timeout_s}s")


def _port_open(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


@dataclass
class RedisServer:
    host: str
    port: int
    process: subprocess.Popen[bytes]
    workdir: Path

    @property
    def url(self) -> str:
        return f"redis://{self.host}:{self.port}/0"

    @property
    def pid(self) -> int:
        return self.process.pid

    def stop(self) -> None:
        _terminate(self.process)


@dataclass
class ToxiproxyServer:
    host: str
    port: int
    process: subprocess.Popen[bytes]

    @property
    def api_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def reset(self) -> None:
        """Remove every proxy (tests share one server; each starts clean)."""
        with httpx.Client(base_url=self.api_url, timeout=5) as c:
            for name in c.get("/proxies").json():
                c.delete(f"/proxies/{name}")

    def stop(self) -> None:
        _terminate(self.process)


def _terminate(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


def start_redis(port: int | None = None) -> RedisServer:
    binary = require_binary("redis-server")
    port = port or free_port()
    workdir = Path(tempfile.mkdtemp(prefix="chaos-redis-"))
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--dir", str(workdir), "--protected-mode", "no"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    server = RedisServer("127.0.0.1", port, process, workdir)
    try:
        wait_for(lambda: _port_open(port), 10, f"redis-server on port {port}")
    except TimeoutError:
        server.stop()
        raise
    return server


def start_toxiproxy(port: int | None = None) -> ToxiproxyServer:
    binary = require_binary("toxiproxy-server")
    port = port or free_port()
    env = dict(os.environ, LOG_LEVEL="warn")
    process = subprocess.Popen(
        [binary, "-host", "127.0.0.1", "-port", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
    )
    server = ToxiproxyServer("127.0.0.1", port, process)

    def ready() -> bool:
        return httpx.get(f"{server.api_url}/version", timeout=0.5).status_code == 200

    try:
        wait_for(ready, 10, f"toxiproxy-server on port {port}")
    except TimeoutError:
        server.stop()
        raise
    return server


@contextmanager
def http_server(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    """A small HTTP server (a target that speaks a protocol) on a free loopback port, on a
    thread, for the block: its base URL."""
    server = HTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
