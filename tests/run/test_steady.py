"""Steady-state checks against a real metrics endpoint: a page that does not parse is an
absent value (the check fails with one line), never an exception out of the drill."""

from __future__ import annotations

from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import anyio
import pytest

from chaos.run.steady import wait_steady_state
from chaos.spec import load_environment
from chaos.spec.drill import SteadyStateCheck
from tests.run.preflight_env import write_env
from tests.servers import http_server


class _Metrics(BaseHTTPRequestHandler):
    page = b""

    def do_GET(self) -> None:
        body = type(self).page
        self.send_response(200)
        self.send_header("content-type", "text/plain; version=0.0.4")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # quiet test output
        del format, args


@pytest.fixture
def metrics() -> Iterator[str]:
    with http_server(_Metrics) as url:
        yield url


CHECK = SteadyStateCheck.model_validate({"name": "queue-drained", "metric": "queue_depth",
                                         "below": 5})


@pytest.mark.parametrize(("page", "ok", "detail"), [
    (b"queue_depth 2\n", True, "queue_depth = 2, needs < 5"),
    (b"queue_depth 9\n", False, "queue_depth = 9, needs < 5"),
    (b"queue_depth{ 2\nnot a metric line at all\n", False, "no value for queue_depth"),
    (b"\xff\xfe binary", False, "no value for queue_depth"),
])
def test_a_metric_check_reads_the_page_or_says_no_value(
        metrics: str, tmp_path: Path, page: bytes, ok: bool, detail: str) -> None:
    _Metrics.page = page
    env = load_environment(write_env(tmp_path, metrics, base_url=metrics,
                                     state_file=tmp_path / "state.json"))
    [result] = anyio.run(lambda: wait_steady_state(env, (CHECK,), timeout_s=0.0, circuits=False))
    assert result.ok is ok
    assert result.detail == detail
