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

import contextlib
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

import anyio

ROOT = Path(__file__).resolve().parent.parent
GO_SOURCE = ROOT / "benchmarks" / "sse_server_go"
_CORES = os.sched_getaffinity(0)  # this process's cores before any pinning: all of them


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

    def pin(self, on: bool) -> str:
        """With `on`, issue 10's set-up on a machine of 2+ cores: the server on the last
        core, this process and every client it starts afterwards (they inherit it) on the
        others, so that the server never takes the client's core and a client's loop lag
        is its own (`isolate_workers` then moves this process off the workers' cores).
        Else both on every core. Returns a line that says which."""
        server, clients = self.cores(on)
        set_affinity(self.process.pid, server)
        set_affinity(os.getpid(), clients)
        if server == clients:
            return f"cores: not pinned (server and clients share {sorted(server)})"
        return f"cores: SSE server on {sorted(server)}, clients on {sorted(clients)}"

    def cores(self, on: bool) -> tuple[set[int], set[int]]:
        """(the server's cores, the clients' cores) for `pin(on)`."""
        cores = sorted(_CORES)
        if on and len(cores) >= 2:
            return {cores[-1]}, set(cores[:-1])
        return set(cores), set(cores)

    async def isolate_workers(self, timeout_s: float) -> str:
        """After `pin(True)`: once this process's load workers (its children other than
        the server) have started, keep them on the clients' cores and move this process
        (the controller: it merges windows every second) onto the server's core, so the
        workers have their cores to themselves. Returns what it did."""
        server, clients = self.cores(True)
        if server == clients:
            return "workers not isolated (one core)"
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            workers = _children(os.getpid()) - {self.process.pid}
            if workers:
                for pid in workers:
                    set_affinity(pid, clients)
                set_affinity(os.getpid(), server)
                return f"load workers {sorted(workers)} alone on {sorted(clients)}"
            await anyio.sleep(0.05)
        return "workers not isolated (none started in time)"

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


def set_affinity(pid: int, cores: set[int]) -> None:
    """Every thread of process `pid` on `cores` (sched_setaffinity moves one thread)."""
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(ProcessLookupError):  # a thread that just ended
            os.sched_setaffinity(int(task.name), cores)


def _children(pid: int) -> set[int]:
    found: set[int] = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(FileNotFoundError):
            found.update(int(c) for c in (task / "children").read_text().split())
    return found


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


def start_server(kind: str = "auto") -> tuple[SSEServer, str]:
    """Start a server of `kind` (go, python, or auto: go when it builds); returns it and a
    line that says which one runs and why."""
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
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return SSEServer(server_kind, proc, port), line
        time.sleep(0.05)
    proc.kill()
    raise SystemExit(f"{server_kind} SSE test server did not start")
