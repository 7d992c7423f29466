"""A URL kill switch: set when a real HTTP endpoint answers 200 with `{"abort": true}` or a
body saying abort; not set otherwise, nor when it does not answer."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import anyio
import pytest
import yaml

from chaos.control import kill_switch_reason
from chaos.spec import Environment
from chaos.spec.loader import parse_environment
from tests.servers import free_port

ROOT = Path(__file__).resolve().parents[2]


class _Switch(BaseHTTPRequestHandler):
    answer: tuple[int, bytes] = (200, b'{"abort": false}')

    def do_GET(self) -> None:
        status, body = type(self).answer
        self.send_response(status)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        del args


@pytest.fixture
def switch_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Switch)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/switch"
    finally:
        server.shutdown()
        server.server_close()


def _env(url: str) -> Environment:
    env = yaml.safe_load((ROOT / "environments" / "local.yaml").read_text("utf-8"))
    env["guardrails"]["kill_switch"] = {"url": url}
    return parse_environment(yaml.safe_dump(env), path="env.yaml")


@pytest.mark.parametrize(("status", "body", "is_set"), [
    (200, b'{"abort": false}', False),
    (200, b'{"abort": true}', True),
    (200, b"ABORT: incident 12", True),
    (200, b"all clear", False),
    (503, b'{"abort": true}', False),
])
def test_a_url_switch_is_set_only_by_200_saying_abort(switch_server: str, status: int, body: bytes,
                                                     is_set: bool) -> None:
    _Switch.answer = (status, body)
    reason = anyio.run(kill_switch_reason, _env(switch_server))
    assert bool(reason) is is_set, reason
    if is_set:
        assert switch_server in reason


def test_a_url_switch_that_does_not_answer_is_not_set() -> None:
    reason = anyio.run(kill_switch_reason, _env(f"http://127.0.0.1:{free_port()}/switch"))
    assert reason == ""


def test_a_running_drills_watch_stops_once_the_url_switch_is_set(switch_server: str, tmp_path: Path) -> None:
    from rich.console import Console

    from chaos.control import ControlWatch, acquire_lock

    _Switch.answer = (200, b'{"abort": false}')
    env = _env(switch_server)
    lock = acquire_lock("local", tmp_path / "runs", tmp_path / "locks")
    events: list[str] = []
    watch = ControlWatch(env, lock, on_event=lambda kind, message, **_: events.append(kind),
                         console=Console(file=None, quiet=True), poll_s=0.1, url_poll_s=0.3)

    async def main() -> bool:
        async with anyio.create_task_group() as tg:
            tg.start_soon(watch.run)
            with anyio.move_on_after(1.5):
                await watch.fired.wait()
            quiet = watch.fired.is_set()
            _Switch.answer = (200, b'{"abort": true}')
            with anyio.fail_after(10):
                await watch.fired.wait()
            tg.cancel_scope.cancel()
        return quiet

    try:
        assert anyio.run(main) is False
    finally:
        lock.release()
    assert watch.reason == f"kill switch {switch_server} is set"
    assert events == ["kill_switch"]
