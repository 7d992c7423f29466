"""Transport failures made by real Toxiproxy toxics are classified by kind."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from chaos.load import LoadConfig
from tests.load.conftest import SSEServer
from tests.load.helpers import recorded, run_worker, total
from tests.servers import ToxiproxyServer, free_port


@pytest.fixture
def proxied(toxiproxy: ToxiproxyServer, sse_server: SSEServer) -> Iterator[tuple[httpx.Client, str, int]]:
    """A Toxiproxy proxy in front of the SSE server: (API client, proxy name, listen port)."""
    port = free_port()
    with httpx.Client(base_url=toxiproxy.api_url, timeout=5) as api:
        created = api.post("/proxies", json={
            "name": "sse", "listen": f"127.0.0.1:{port}", "upstream": f"127.0.0.1:{sse_server.port}",
        })
        assert created.status_code == 201, created.text
        yield api, "sse", port


def _add_toxic(api: httpx.Client, proxy: str, body: dict[str, object]) -> None:
    response = api.post(f"/proxies/{proxy}/toxics", json=body)
    assert response.status_code == 200, response.text


def _kinds(port: int, query: str, **kw: object) -> tuple[int, dict[str, int]]:
    base: dict[str, object] = {
        "url": f"http://127.0.0.1:{port}/api/chat?{query}", "streams": 3, "hold_s": 0.5,
        "graceful_s": 3.0, "workers": 1,
    }
    base.update(kw)
    windows = run_worker(LoadConfig(**base))  # type: ignore[arg-type]
    kinds: dict[str, int] = {}
    for w in windows:
        for kind, n in w.transport.items():
            kinds[kind] = kinds.get(kind, 0) + n
    return recorded(windows), kinds


def test_reset_peer_before_the_response_is_a_reset(proxied: tuple[httpx.Client, str, int]) -> None:
    api, proxy, port = proxied
    _add_toxic(api, proxy, {"type": "reset_peer", "stream": "upstream", "attributes": {"timeout": 0}})
    n, kinds = _kinds(port, "events=1")
    assert n > 0
    assert kinds == {"reset": n}


def test_timeout_toxic_blackholes_the_response_into_a_timeout(proxied: tuple[httpx.Client, str, int]) -> None:
    api, proxy, port = proxied
    _add_toxic(api, proxy, {"type": "timeout", "stream": "downstream", "attributes": {"timeout": 0}})
    n, kinds = _kinds(port, "events=1", hold_s=0.2, first_byte_timeout_s=0.3)
    assert n == 3  # one request per stream, each waits out its first-byte timeout
    assert kinds == {"timeout": n}


def test_limit_data_cuts_streams_after_their_200_into_truncated(proxied: tuple[httpx.Client, str, int]) -> None:
    api, proxy, port = proxied
    # the headers (~120 bytes) and a few events pass, then the connection closes mid-stream
    _add_toxic(api, proxy, {"type": "limit_data", "stream": "downstream", "attributes": {"bytes": 300}})
    windows = run_worker(LoadConfig(url=f"http://127.0.0.1:{port}/?events=50&interval_ms=2",
                                    streams=3, hold_s=0.5, graceful_s=2.0, workers=1))
    n = recorded(windows)
    assert n > 0
    assert total(windows, "truncated") == n  # a 200 whose stream never reached [DONE]
    assert all(not w.transport for w in windows)
