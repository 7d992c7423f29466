"""HTTP actions (operator endpoints, fault switches) against a real local HTTP server."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import anyio
import pytest

from chaos.errors import FaultError
from chaos.faults import Executor, HttpRequest, Primitive, Targets, send_http


class _Switch(BaseHTTPRequestHandler):
    """A fault switch shaped like the testbed provider's /admin/fault."""

    def _answer(self, status: int) -> None:
        body = json.dumps({"fault": self.server.fault}).encode()  # type: ignore[attr-defined]
        self.send_response(status)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        if self.server.broken == "no-field":  # type: ignore[attr-defined]
            body = b"<html>ok</html>"
            self.send_response(200)
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        self._answer(200)

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length", 0))
        body = json.loads(self.rfile.read(length))
        if self.server.broken != "ignores-post":  # type: ignore[attr-defined]
            self.server.fault = body  # type: ignore[attr-defined]
        self._answer(200)

    def do_DELETE(self) -> None:
        if self.server.broken != "ignores-delete":  # type: ignore[attr-defined]
            self.server.fault = None  # type: ignore[attr-defined]
        self._answer(200)

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        return


@pytest.fixture
def switch() -> Iterator[ThreadingHTTPServer]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Switch)
    server.fault = None  # type: ignore[attr-defined]
    server.broken = None  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def test_http_primitive_sets_and_clears_the_switch(switch: ThreadingHTTPServer) -> None:
    """apply POSTs the fault body (expect 200); revert DELETEs it; the server state shows both."""
    url = f"http://127.0.0.1:{switch.server_address[1]}/admin/fault"
    body = {"status": 503, "retry_after_s": 5.0, "rate": 1.0}
    p = Primitive("http", url, {"apply": {"method": "POST", "url": url, "body": body,
                                          "expect_status": 200},
                                "undo": {"method": "DELETE", "url": url, "body": None,
                                         "expect_status": 200}})

    async def go() -> None:
        async with Executor(Targets()) as ex:
            await ex.apply(p)
            assert switch.fault == body  # type: ignore[attr-defined]
            await ex.revert(p)
            assert switch.fault is None  # type: ignore[attr-defined]

    anyio.run(go)


def test_unexpected_status_is_a_fault_error_naming_the_url(switch: ThreadingHTTPServer) -> None:
    """A status other than the expected one, after retries, raises FaultError with the URL."""
    url = f"http://127.0.0.1:{switch.server_address[1]}/admin/fault"

    async def go() -> None:
        await send_http(HttpRequest("DELETE", url, None, 204), retries=1)

    with pytest.raises(FaultError, match=r"HTTP 200, expected 204") as info:
        anyio.run(go)
    assert info.value.target == url


def test_unreachable_endpoint_fails_after_bounded_retries() -> None:
    """A refused connection is retried a bounded number of times, then a FaultError."""
    from tests.servers import free_port

    url = f"http://127.0.0.1:{free_port()}/drain"

    async def go() -> None:
        await send_http(HttpRequest("POST", url), retries=2, timeout_s=0.5)

    with pytest.raises(FaultError, match="ConnectError"):
        anyio.run(go)


def _switch_primitive(url: str, body: dict[str, Any]) -> Primitive:
    return Primitive("http", url, {
        "apply": {"method": "POST", "url": url, "body": body, "expect_status": 200},
        "undo": {"method": "DELETE", "url": url, "body": None, "expect_status": 200},
        "verify": {"url": url, "applied": body}})


def test_a_switch_is_read_back_after_apply_and_after_revert(switch: ThreadingHTTPServer) -> None:
    """Like a toxic: apply returns only once GET answers the fault sent, revert once it
    answers `fault: null`."""
    url = f"http://127.0.0.1:{switch.server_address[1]}/admin/fault"
    body = {"stream": "error", "after_chunks": 2, "rate": 0.5, "code": "overloaded_error"}

    async def go() -> None:
        async with Executor(Targets()) as ex:
            await ex.apply(_switch_primitive(url, body))
            assert switch.fault == body  # type: ignore[attr-defined]
            await ex.revert(_switch_primitive(url, body))
            assert switch.fault is None  # type: ignore[attr-defined]

    anyio.run(go)


@pytest.mark.parametrize(("broken", "action", "message"), [
    ("ignores-post", "apply", r"fault apply fault switch on http://\S+: not verified after 1s: "
                              r"the switch answers off, expected \{\"after_chunks\":0,.*\}"),
    ("ignores-delete", "revert", r"fault revert fault switch on \S+: not verified after 1s: "
                                 r"the switch answers \{.*\"stream\":\"truncate\"\}, expected off"),
    ("no-field", "apply", r"the answer has no `fault` field: is it a chaos fault switch"),
])
def test_a_switch_that_does_not_read_back_what_was_sent_is_a_fault_error(
        switch: ThreadingHTTPServer, broken: str, action: str, message: str) -> None:
    """A 200 to the POST/DELETE is not proof: an endpoint that ignores it, or is no fault
    switch at all, fails verification with what it answered."""
    url = f"http://127.0.0.1:{switch.server_address[1]}/admin/fault"
    body = {"stream": "truncate", "after_chunks": 0, "rate": 1.0}
    switch.broken = broken  # type: ignore[attr-defined]

    async def go() -> None:
        async with Executor(Targets(), verify_timeout_s=1.0) as ex:
            if action == "revert":
                await ex.apply(_switch_primitive(url, body))
            await getattr(ex, action)(_switch_primitive(url, body))

    with pytest.raises(FaultError, match=message):
        anyio.run(go)
