"""Fixtures of the load-driver tests: a real SSE server process on a free loopback port."""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from tests.servers import free_port, wait_for


@dataclass
class SSEServer:
    port: int
    process: subprocess.Popen[bytes]

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, **query: object) -> str:
        qs = "&".join(f"{k}={v}" for k, v in query.items())
        return f"{self.base}/api/chat" + (f"?{qs}" if qs else "")

    def stats(self) -> dict[str, int]:
        return httpx.get(f"{self.base}/admin/stats", timeout=5).json()  # type: ignore[no-any-return]


def start_sse_server() -> SSEServer:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.load.sse_server", "--port", str(port)],
        stdout=subprocess.DEVNULL,
    )

    def ready() -> bool:
        with socket.socket() as s:
            s.settimeout(0.2)
            return s.connect_ex(("127.0.0.1", port)) == 0

    wait_for(ready, 15, f"SSE test server on port {port}")
    return SSEServer(port, process)


@pytest.fixture(scope="session")
def sse_server() -> Iterator[SSEServer]:
    server = start_sse_server()
    yield server
    server.process.terminate()
    server.process.wait(timeout=10)
