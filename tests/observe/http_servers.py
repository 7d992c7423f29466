"""Real HTTP servers in threads for observer tests: a Prometheus text endpoint backed by a real
prometheus_client registry, a Prometheus query API, and a chat platform's health + chat."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest


@dataclass
class Target:
    """What the test server answers; tests change it between ticks."""

    registry: CollectorRegistry = field(default_factory=CollectorRegistry)
    hang_s: float = 2.0  # how long a hanging /metrics stalls (longer than any observer timeout used)
    metrics_mode: str = "ok"  # "ok", "hang" or "broken" (HTTP 500)
    health_status: int = 200
    chat_status: int = 200
    chat_error_code: str = "redis_unavailable"
    chat_breaks: bool = False  # a 200 stream that ends in `event: error` (chat_error_code)
    region: str = "us-east"
    promql: dict[str, list[tuple[dict[str, str], float]]] = field(default_factory=dict)
    release: threading.Event = field(default_factory=threading.Event)


def make_testbed_metrics(registry: CollectorRegistry) -> dict[str, Gauge | Counter]:
    """The testbed's metric names on a real registry."""
    return {
        "circuit": Gauge("provider_circuit_state", "circuit", ["route"], registry=registry),
        "queue_age": Gauge("queue_oldest_job_age_seconds", "age", registry=registry),
        "queue_depth": Gauge("queue_depth", "depth", registry=registry),
        "region": Gauge("router_active_region", "active", ["region"], registry=registry),
        "failovers": Counter("router_failovers", "failovers", registry=registry),
        "redis_up": Gauge("redis_up", "redis", registry=registry),
        "requests": Counter("chat_requests", "requests", ["code"], registry=registry),
    }


def _handler(target: Target) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            pass

        def _send(self, status: int, body: bytes, ctype: str, headers: dict[str, str] | None = None) -> None:
            self.send_response(status)
            self.send_header("content-type", ctype)
            self.send_header("content-length", str(len(body)))
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            url = urlparse(self.path)
            if url.path == "/metrics" and target.metrics_mode == "hang":
                target.release.wait(target.hang_s)
                self._send(200, generate_latest(target.registry), "text/plain")
            elif url.path == "/metrics" and target.metrics_mode == "broken":
                self._send(500, b"oops", "text/plain")
            elif url.path == "/metrics":
                self._send(200, generate_latest(target.registry), "text/plain; version=0.0.4")
            elif url.path == "/api/v1/query":
                query = parse_qs(url.query)["query"][0]
                if query not in target.promql:
                    self._send(400, json.dumps({"status": "error", "error": "bad query"}).encode(),
                               "application/json")
                    return
                result = [{"metric": {"__name__": "x", **labels}, "value": [0, str(v)]}
                          for labels, v in target.promql[query]]
                body = {"status": "success", "data": {"resultType": "vector", "result": result}}
                self._send(200, json.dumps(body).encode(), "application/json")
            elif url.path == "/health":
                self._send(target.health_status, b'{"ok": true}', "application/json")
            else:
                self._send(404, b"", "text/plain")

        def do_POST(self) -> None:
            length = int(self.headers.get("content-length", "0"))
            self.rfile.read(length)
            if self.path != "/api/chat":
                self._send(404, b"", "text/plain")
                return
            if target.chat_status != 200:
                body = json.dumps({"error": target.chat_error_code, "detail": "secret text"}).encode()
                self._send(target.chat_status, body, "application/json", {"x-region": target.region})
                return
            self.send_response(200)
            self.send_header("content-type", "text/event-stream")
            self.send_header("x-region", target.region)
            self.send_header("transfer-encoding", "chunked")
            self.end_headers()
            events = [b'data: {"token": "hel"}\n\n', b'data: {"token": "lo"}\n\n', b"data: [DONE]\n\n"]
            if target.chat_breaks:
                events[1:] = [b"event: error\n", b'data: {"error": "%s"}\n\n'
                              % target.chat_error_code.encode()]
            for event in events:
                self.wfile.write(f"{len(event):x}\r\n".encode() + event + b"\r\n")
                self.wfile.flush()
            self.wfile.write(b"0\r\n\r\n")

    return Handler


@contextmanager
def serve(target: Target) -> Iterator[str]:
    """Serve `target` on a free loopback port; yields the base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(target))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        target.release.set()
        server.shutdown()
        server.server_close()
        thread.join(5)
