"""The benchmarks' SSE test server: the Go one (benchmarks/sse_server_go, built on first use
into a cache directory) when `go` is on PATH, else the Python one (tests/load/sse_server.py).

Both take first_ms, interval_ms, events, done (0: no `data: [DONE]` at the end) and
format (openai: OpenAI chat.completion.chunk events, a finish and a usage chunk) in the
query, answer the same query with the same bytes (head, chunk framing and body:
benchmarks/sse_server_parity.py checks it), and report their own first-event lateness at
/admin/stats, so a client's first-event error can be told apart from the server's. The Go server keeps the server off the interpreter-bound CPU the Python client
needs; on a small machine the Python server's own lateness at thousands of streams would
otherwise be charged to the client.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GO_SOURCE = ROOT / "benchmarks" / "sse_server_go"


@dataclass
class SSEServer:
    kind: str  # "go" or "python"
    process: subprocess.Popen[bytes]
    port: int

    def url(self, query: str, path: str = "/api/chat") -> str:
        return f"http://127.0.0.1:{self.port}{path}?{query}"

    def raw_response(self, query: str, path: str = "/api/chat", body: bytes = b"{}") -> bytes:
        """The exact bytes of one chunked response (head, chunk framing and all) to a POST."""
        return raw_response(self.port, f"{path}?{query}", body)

    def stats(self, *, reset: bool = False) -> dict[str, float]:
        suffix = "?reset=1" if reset else ""
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/admin/stats{suffix}", timeout=5) as r:
            return json.loads(r.read())  # type: ignore[no-any-return]

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


def go_server_binary() -> tuple[Path | None, str]:
    """The built Go server (cached by source hash) and a note; (None, why) without Go."""
    go = shutil.which("go")
    if go is None:
        return None, "go is not on PATH"
    digest = hashlib.sha256()
    for name in ("go.mod", "main.go"):
        digest.update((GO_SOURCE / name).read_bytes())
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "chaos-benchmarks"
    binary = cache / f"sse_server_go-{digest.hexdigest()[:12]}"
    if binary.exists():
        return binary, f"cached build {binary}"
    cache.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "GOTOOLCHAIN": "local", "GOFLAGS": "-buildvcs=false"}
    done = subprocess.run([go, "build", "-o", str(binary), "."], cwd=GO_SOURCE, env=env,
                          capture_output=True, text=True)
    if done.returncode != 0:
        return None, f"go build failed: {done.stderr.strip()[:300]}"
    return binary, f"built {binary}"


def raw_response(port: int, target: str, body: bytes = b"{}", timeout_s: float = 30.0) -> bytes:
    """POST `target` on a fresh connection and return the response's bytes exactly as they
    came, up to and including the chunked body's last-chunk marker."""
    request = (f"POST {target} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
               f"Content-Length: {len(body)}\r\n\r\n").encode() + body
    data = b""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout_s) as s:
        s.sendall(request)
        while b"\r\n0\r\n\r\n" not in data and not data.endswith(b"\r\n\r\n0\r\n\r\n"):
            piece = s.recv(65536)
            if not piece:
                break
            data += piece
    return data


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pin_cpus() -> tuple[set[int] | None, str]:
    """The issue-10 set-up on a machine of 2+ cores: the SSE server on the last core, this
    process (and every client it starts, which inherit it) on the others, so the server
    never takes the client's core (or the client's loop lag would be the server's). Returns
    the server's cores and a line that says so; (None, why not) on one core."""
    cores = sorted(os.sched_getaffinity(0))
    if len(cores) < 2:
        return None, "cores: not pinned (one core: server and client share it)"
    server, clients = {cores[-1]}, set(cores[:-1])
    os.sched_setaffinity(0, clients)
    return server, f"cores: SSE server on {sorted(server)}, clients on {sorted(clients)}"


def start_server(kind: str = "auto", cpus: set[int] | None = None) -> tuple[SSEServer, str]:
    """Start a server of `kind` (go, python, or auto: go when it builds), on `cpus` when
    given; returns it and a line that says which one runs and why."""
    note = "python server requested"
    binary: Path | None = None
    if kind in ("auto", "go"):
        binary, note = go_server_binary()
        if binary is None and kind == "go":
            raise SystemExit(f"Go SSE server unavailable: {note}")
    port = free_port()
    if binary is not None:
        cmd = [str(binary), "-port", str(port)]
        server_kind, line = "go", f"SSE server: Go ({note})"
    else:
        cmd = [sys.executable, "-m", "tests.load.sse_server", "--port", str(port)]
        server_kind = "python"
        line = "SSE server: Python (tests/load/sse_server.py)" + (
            f"; the Go server is not used: {note}" if kind == "auto" else "")
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL,
                            preexec_fn=None if cpus is None else lambda: os.sched_setaffinity(0, cpus))
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return SSEServer(server_kind, proc, port), line
        time.sleep(0.05)
    proc.kill()
    raise SystemExit(f"{server_kind} SSE test server did not start")
