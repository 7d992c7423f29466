"""The testbed's internal HTTP client against a raw loopback server: streamed body, the idle
bound between body bytes, and a connection closed mid-body."""

from __future__ import annotations

import asyncio
import time

import pytest
import uvloop

from chaos.testbed.upstream import UpstreamError, request

HEAD = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n"


def _chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


async def _serve(script: list[tuple[float, bytes | None]]) -> tuple[asyncio.Server, int]:
    """A server that, per connection, sleeps and writes each step (None: close the socket)."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await reader.readuntil(b"\r\n\r\n")
            for pause, data in script:
                await asyncio.sleep(pause)
                if data is None:
                    return
                writer.write(data)
            await reader.read()  # until the client closes its end
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1]


async def _read_all(script: list[tuple[float, bytes | None]], idle_s: float) -> tuple[list[bytes], float]:
    server, port = await _serve(script)
    async with server:
        resp = await request("127.0.0.1", port, "POST", "/", {}, b"", connect_timeout_s=1,
                             read_timeout_s=idle_s)
        t0 = time.monotonic()
        try:
            got = [chunk async for chunk in resp.chunks()]
        finally:
            resp.close()
        return got, time.monotonic() - t0


def test_a_slow_but_steady_stream_is_read_whole() -> None:
    """Gaps shorter than the idle bound, adding up to far more than it, are fine."""
    steps = [(0.0, HEAD)] + [(0.1, _chunk(b"data: x\n\n")) for _ in range(8)] + [(0.0, b"0\r\n\r\n")]
    got, _ = uvloop.run(_read_all(steps, idle_s=0.3))
    assert b"".join(got) == b"data: x\n\n" * 8


def test_a_stream_that_goes_quiet_fails_after_the_idle_bound() -> None:
    steps = [(0.0, HEAD + _chunk(b"data: a\n\n"))]
    with pytest.raises(UpstreamError, match=r"no data for 0\.3s"):
        uvloop.run(_read_all(steps, idle_s=0.3))


def test_a_connection_closed_mid_body_is_an_error_at_once() -> None:
    steps = [(0.0, HEAD + _chunk(b"data: a\n\n")), (0.05, None)]
    t0 = time.monotonic()
    with pytest.raises(UpstreamError, match="closed mid-response"):
        uvloop.run(_read_all(steps, idle_s=5.0))
    assert time.monotonic() - t0 < 2.0


@pytest.mark.parametrize("ending", ["complete", "closed_early"])
def test_a_finished_request_is_freed_without_the_garbage_collector(ending: str) -> None:
    """The protocol, its parser and its transport must not keep each other alive once the
    connection is gone: at 1,000 streams such cycles were ~17 objects per request per hop, left
    for full collections that paused the router for 100-200 ms."""
    import gc
    import weakref

    steps = [(0.0, HEAD), (0.0, _chunk(b"data: x\n\n"))]
    steps += [(0.0, b"0\r\n\r\n")] if ending == "complete" else [(0.05, None)]

    async def run() -> weakref.ref[object]:
        server, port = await _serve(steps)
        async with server:
            resp = await request("127.0.0.1", port, "POST", "/", {}, b"", connect_timeout_s=1,
                                 read_timeout_s=1)
            try:
                async for _ in resp.chunks():
                    pass
            except UpstreamError:
                assert ending == "closed_early"
            finally:
                resp.close()
            ref = weakref.ref(resp._proto)
            del resp
            await asyncio.sleep(0.05)  # connection_lost runs on the loop
            return ref

    gc.collect()
    gc.disable()
    try:
        ref = uvloop.run(run())
        assert ref() is None, "the upstream protocol is only reachable through a reference cycle"
    finally:
        gc.enable()
