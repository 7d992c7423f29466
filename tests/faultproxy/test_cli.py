"""`chaos fault-proxy` as an operator starts it: a process forwarding to an upstream."""

from __future__ import annotations

import subprocess
import sys

import httpx

from tests.faultproxy.helpers import chat
from tests.protocol_target import ProtocolTarget
from tests.servers import free_port, wait_for


def test_the_command_serves_a_switchable_fault_point(target: ProtocolTarget) -> None:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "chaos", "fault-proxy", "--listen", f"127.0.0.1:{port}",
         "--upstream", target.url, "--protocol", "anthropic", "--name", "fallback", "--seed", "1"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: httpx.get(f"{base}/__chaos/health", timeout=1).status_code == 200, 20,
                 "chaos fault-proxy")
        assert chat(base, "anthropic").outcome == "2xx"
        answer = httpx.post(f"{base}/__chaos/fault", json={"stream": "truncate", "after_chunks": 2})
        assert answer.json() == {"route": "fallback", "fault": {"stream": "truncate", "after_chunks": 2, "rate": 1.0}}
        seen = chat(base, "anthropic")
        assert (seen.outcome, seen.content_chunks) == ("truncated", 2)
    finally:
        process.terminate()
        _, err = process.communicate(timeout=10)
    assert f"fault proxy fallback: http://127.0.0.1:{port} -> {target.url} (anthropic)" in err.decode()


def test_bad_flags_are_refused_on_one_line() -> None:
    result = subprocess.run([sys.executable, "-m", "chaos", "fault-proxy", "--listen", "nowhere",
                             "--upstream", "http://127.0.0.1:1"], capture_output=True, text=True)
    assert result.returncode == 2
    assert result.stderr.strip() == "chaos fault-proxy: --listen: expected HOST:PORT, got 'nowhere'"
