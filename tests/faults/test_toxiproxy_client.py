"""The async Toxiproxy client against the real toxiproxy-server."""

from __future__ import annotations

import socket
import time
from typing import Any

import anyio
import pytest

from chaos.errors import ToxiproxyError
from chaos.faults import (
    Bandwidth,
    Latency,
    LimitData,
    ProxyConfig,
    ResetPeer,
    Slicer,
    SlowClose,
    Timeout,
    ToxiproxyClient,
)
from tests.servers import ToxiproxyServer


def run(fn: Any, *args: Any) -> Any:
    return anyio.run(fn, *args)


def test_proxy_lifecycle_create_get_update_list_delete(toxiproxy: ToxiproxyServer) -> None:
    """Create, read, disable/enable, re-point and delete a proxy; deleting twice is fine."""
    async def scenario() -> None:
        async with ToxiproxyClient(toxiproxy.api_url) as tp:
            assert (await tp.version()).startswith("2.")
            created = await tp.create_proxy(ProxyConfig("p1", "127.0.0.1:0", "127.0.0.1:9"))
            assert created.enabled
            assert created.listen_port > 0
            assert (await tp.disable("p1")).enabled is False
            assert (await tp.get_proxy("p1")).enabled is False
            assert (await tp.enable("p1")).enabled is True
            moved = await tp.update_proxy("p1", upstream="127.0.0.1:10")
            assert moved.upstream == "127.0.0.1:10"
            assert set(await tp.proxies()) == {"p1"}
            await tp.delete_proxy("p1")
            await tp.delete_proxy("p1")
            assert await tp.proxies() == {}

    run(scenario)


def test_populate_and_reset_restore_every_proxy(toxiproxy: ToxiproxyServer) -> None:
    """POST /populate creates proxies; POST /reset enables them and drops every toxic."""
    async def scenario() -> None:
        async with ToxiproxyClient(toxiproxy.api_url) as tp:
            made = await tp.populate([ProxyConfig("a", "127.0.0.1:0", "127.0.0.1:9"),
                                      ProxyConfig("b", "127.0.0.1:0", "127.0.0.1:9")])
            assert sorted(p.name for p in made) == ["a", "b"]
            await tp.disable("a")
            await tp.add_toxic("b", "chaos_t", Latency(100))
            await tp.reset()
            proxies = await tp.proxies()
            assert all(p.enabled and not p.toxics for p in proxies.values())

    run(scenario)


@pytest.mark.parametrize(("spec", "stream", "toxicity"), [
    (Latency(250, 30), "downstream", 1.0),
    (Bandwidth(64), "downstream", 1.0),
    (SlowClose(100), "upstream", 1.0),
    (Timeout(0), "upstream", 1.0),
    (ResetPeer(50), "downstream", 0.5),
    (Slicer(64, 8, 1500), "downstream", 1.0),
    (LimitData(1024), "downstream", 1.0),
])
def test_every_toxic_type_round_trips_typed_attributes(
        toxiproxy: ToxiproxyServer, spec: Any, stream: str, toxicity: float) -> None:
    """Each toxic type is created with its attributes, stream and toxicity, read back as the
    same typed value, updated via PATCH, and removed."""
    async def scenario() -> None:
        async with ToxiproxyClient(toxiproxy.api_url) as tp:
            await tp.create_proxy(ProxyConfig("p", "127.0.0.1:0", "127.0.0.1:9"))
            toxic = await tp.add_toxic("p", "chaos_x", spec, stream=stream, toxicity=toxicity)
            assert (toxic.spec, toxic.stream, toxic.toxicity) == (spec, stream, toxicity)
            listed = await tp.toxics("p")
            assert [t.spec for t in listed] == [spec]
            updated = await tp.update_toxic("p", "chaos_x", toxicity=0.25)
            assert updated.toxicity == 0.25
            assert updated.spec == spec
            await tp.delete_toxic("p", "chaos_x")
            await tp.delete_toxic("p", "chaos_x")  # already gone: done
            assert await tp.toxics("p") == []

    run(scenario)


def test_add_existing_toxic_updates_it(toxiproxy: ToxiproxyServer) -> None:
    """A repeated add (e.g. a retried create that had succeeded) updates instead of failing."""
    async def scenario() -> None:
        async with ToxiproxyClient(toxiproxy.api_url) as tp:
            await tp.create_proxy(ProxyConfig("p", "127.0.0.1:0", "127.0.0.1:9"))
            await tp.add_toxic("p", "chaos_l", Latency(100))
            again = await tp.add_toxic("p", "chaos_l", Latency(200))
            assert again.spec == Latency(200)

    run(scenario)


def test_errors_name_the_proxy_and_the_call(toxiproxy: ToxiproxyServer) -> None:
    """A 404 on a missing proxy is a one-line ToxiproxyError naming proxy and call."""
    async def scenario() -> None:
        async with ToxiproxyClient(toxiproxy.api_url) as tp:
            with pytest.raises(ToxiproxyError) as info:
                await tp.disable("nope")
            assert info.value.target == "nope"
            assert info.value.action == "update proxy"
            assert "404" in str(info.value)
            assert "\n" not in str(info.value)

    run(scenario)


def test_hanging_api_times_out_and_retries_boundedly() -> None:
    """An API that accepts but never answers fails after timeout x (retries+1), not forever."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        port = listener.getsockname()[1]

        async def scenario() -> None:
            async with ToxiproxyClient(f"http://127.0.0.1:{port}", timeout_s=0.2, retries=2,
                                       backoff_s=0.01) as tp:
                with pytest.raises(ToxiproxyError) as info:
                    await tp.proxies()
                assert "ReadTimeout" in str(info.value)

        start = time.monotonic()
        run(scenario)
        elapsed = time.monotonic() - start
        assert 0.6 <= elapsed < 5.0
