"""Each toxic's effect observed from outside on a real TCP stream through the real Toxiproxy,
and each revert restoring normal traffic. Applied and reverted through the Executor, as a
FaultSession does."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import anyio
import pytest

from chaos.faults import Executor, Primitive, ProxyConfig, Targets, ToxiproxyClient
from tests.faults.upstream import Upstream, connect, fetch, request, upstream
from tests.servers import ToxiproxyServer


def run(fn: Any, *args: Any) -> Any:
    return anyio.run(fn, *args)


@pytest.fixture
def link(toxiproxy: ToxiproxyServer) -> Iterator[tuple[ToxiproxyServer, Upstream, int]]:
    """A real upstream behind a real proxy `link`; yields (server, upstream, listen port)."""
    with upstream() as up:
        async def make() -> int:
            async with ToxiproxyClient(toxiproxy.api_url) as tp:
                proxy = await tp.create_proxy(ProxyConfig("link", "127.0.0.1:0", up.address))
                return proxy.listen_port

        yield toxiproxy, up, run(make)


def toxic(type_: str, stream: str = "downstream", toxicity: float = 1.0,
          **attributes: int) -> Primitive:
    return Primitive("toxiproxy.toxic", "link", {"name": f"chaos_test_{type_}", "type": type_,
                                                 "stream": stream, "toxicity": toxicity,
                                                 "attributes": attributes})


def act(server: ToxiproxyServer, what: str, p: Primitive) -> None:
    async def go() -> None:
        async with Executor(Targets(toxiproxy_api=server.api_url)) as ex:
            await (ex.apply(p) if what == "apply" else ex.revert(p))

    run(go)


def baseline_first_byte_s(port: int) -> float:
    return min(fetch(port)[0] for _ in range(3))


def test_latency_shifts_first_byte_and_revert_restores(link: Any) -> None:
    """latency 300ms: first byte arrives >= 300ms later (tolerance +250ms for a busy machine);
    after the revert it is back near the baseline."""
    server, _, port = link
    base = baseline_first_byte_s(port)
    act(server, "apply", toxic("latency", latency=300, jitter=0))
    first, _ = fetch(port)
    assert first - base + 0.005 >= 0.300, (first, base)
    assert first < base + 0.300 + 0.250, (first, base)
    act(server, "revert", toxic("latency", latency=300, jitter=0))
    assert baseline_first_byte_s(port) < 0.100


def test_disable_refuses_new_and_closes_open_connections(link: Any) -> None:
    """Disabling the proxy closes an open connection (EOF/reset) and refuses new ones; enabling
    restores traffic."""
    server, _, port = link
    open_conn = connect(port)
    request(open_conn, 8)
    act(server, "apply", Primitive("toxiproxy.disable", "link"))
    try:
        open_conn.settimeout(2)
        try:
            closed = open_conn.recv(1) == b""
        except ConnectionResetError:
            closed = True
        assert closed
        with pytest.raises(ConnectionRefusedError):
            fetch(port)
    finally:
        open_conn.close()
    act(server, "revert", Primitive("toxiproxy.disable", "link"))
    assert fetch(port)[1] < 1.0


def test_blackhole_stalls_without_closing_and_revert_restores(link: Any) -> None:
    """timeout 0 (blackhole): a request gets no byte and no close within 0.5s; after the revert
    a new connection is served normally."""
    server, _, port = link
    blackhole = toxic("timeout", timeout=0)
    act(server, "apply", blackhole)
    with connect(port, timeout_s=0.5) as s:
        s.sendall(b"8\n")
        with pytest.raises(TimeoutError):
            s.recv(1)
    act(server, "revert", blackhole)
    assert fetch(port)[1] < 1.0


def test_reset_peer_resets_connections_and_revert_restores(link: Any) -> None:
    """reset_peer: the client sees a connection reset; after the revert requests succeed."""
    server, _, port = link
    reset = toxic("reset_peer", stream="upstream", timeout=0)
    act(server, "apply", reset)
    with connect(port) as s:
        s.sendall(b"8\n")
        try:
            got: bytes | None = s.recv(1)
        except ConnectionResetError:
            got = None
        assert not got, "expected a reset (or EOF), got data"
    act(server, "revert", reset)
    assert fetch(port)[1] < 1.0


def test_bandwidth_slows_a_transfer_and_revert_restores(link: Any) -> None:
    """bandwidth 100 KB/s: 60 KB take >= 0.45s (vs milliseconds without); back to fast after."""
    server, _, port = link
    assert fetch(port, 60_000)[1] < 0.3
    slow = toxic("bandwidth", rate=100)
    act(server, "apply", slow)
    assert fetch(port, 60_000)[1] >= 0.45
    act(server, "revert", slow)
    assert fetch(port, 60_000)[1] < 0.3


def test_limit_data_closes_after_n_bytes(link: Any) -> None:
    """limit_data 1000: asking for 5000 bytes ends in EOF after 1000."""
    server, _, port = link
    limit = toxic("limit_data", bytes=1000)
    act(server, "apply", limit)
    with pytest.raises(ConnectionError, match="EOF after 1000"):
        fetch(port, 5000)
    act(server, "revert", limit)
    assert fetch(port, 5000)[1] < 1.0


def test_toxic_added_mid_stream_applies_to_open_connection(link: Any) -> None:
    """A latency toxic added while a connection is open delays that connection's next reply."""
    server, _, port = link
    with connect(port) as s:
        request(s, 8)
        lat = toxic("latency", latency=250, jitter=0)
        act(server, "apply", lat)
        first, _ = request(s, 8)
        assert first >= 0.245
        act(server, "revert", lat)
    start = time.monotonic()
    fetch(port)
    assert time.monotonic() - start < 0.2


def test_partial_toxicity_hits_a_share_of_connections(link: Any) -> None:
    """reset_peer at toxicity 0.5 is drawn per connection: of 40 connections some fail and some
    succeed (the chance that all 40 land on one side is 2 x 0.5^40)."""
    server, _, port = link
    partial = toxic("reset_peer", stream="downstream", toxicity=0.5, timeout=0)
    act(server, "apply", partial)
    ok = failed = 0
    for _ in range(40):
        try:
            fetch(port, 8, timeout_s=1.0)
            ok += 1
        except (TimeoutError, ConnectionError):
            failed += 1
    act(server, "revert", partial)
    assert ok > 0, (ok, failed)
    assert failed > 0, (ok, failed)
