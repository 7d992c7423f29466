"""A real TCP upstream for toxic tests: answers each request line `<n>\\n` with n bytes.

It runs in a thread of the test process; clients reach it through a real Toxiproxy proxy.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress


class Upstream:
    def __init__(self) -> None:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(64)
        self.port: int = self._sock.getsockname()[1]
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._conns: list[socket.socket] = []
        self._accept = threading.Thread(target=self._serve, daemon=True)
        self._accept.start()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _serve(self) -> None:
        self._sock.settimeout(0.1)
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except (TimeoutError, OSError):
                continue
            self._conns.append(conn)
            t = threading.Thread(target=self._handle, args=(conn,), daemon=True)
            t.start()
            self._threads.append(t)

    def _handle(self, conn: socket.socket) -> None:
        buf = b""
        try:
            while not self._stop.is_set():
                data = conn.recv(4096)
                if not data:
                    return
                buf += data
                while b"\n" in buf:
                    line, buf = buf.split(b"\n", 1)
                    conn.sendall(b"x" * int(line))
        except OSError:
            return
        finally:
            conn.close()

    def close(self) -> None:
        self._stop.set()
        for conn in self._conns:
            with suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        self._sock.close()
        self._accept.join(timeout=2)
        for t in self._threads:
            t.join(timeout=2)


@contextmanager
def upstream() -> Iterator[Upstream]:
    server = Upstream()
    try:
        yield server
    finally:
        server.close()


def connect(port: int, timeout_s: float = 2.0) -> socket.socket:
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout_s)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def request(s: socket.socket, n: int) -> tuple[float, float]:
    """Ask for n bytes; (first byte s, all bytes s) measured on the monotonic clock."""
    start = time.monotonic()
    s.sendall(f"{n}\n".encode())
    got = s.recv(65536)
    if not got:
        raise ConnectionError("EOF before the first byte")
    first = time.monotonic() - start
    total = len(got)
    while total < n:
        chunk = s.recv(65536)
        if not chunk:
            raise ConnectionError(f"EOF after {total} of {n} bytes")
        total += len(chunk)
    return first, time.monotonic() - start


def fetch(port: int, n: int = 16, timeout_s: float = 2.0) -> tuple[float, float]:
    """One fresh connection, one request."""
    with connect(port, timeout_s) as s:
        return request(s, n)
