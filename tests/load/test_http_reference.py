"""The lean client parses what h11 (the reference parser) parses: framing, keep-alive, close;
and classifies a 2xx stream read in any pieces as the protocol profile does the whole body.

A raw loopback server writes exact response bytes (a fixed corpus plus hypothesis-generated
responses) in pieces; the client's view is compared with h11's view of the same bytes. Every
test runs each response reader there is (`READERS`: the compiled one and httptools).
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import h11
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chaos.load.exchange import Exchange, Timeouts, build_request, error_code_of
from chaos.load.http import READERS, Connection, open_connection
from chaos.protocols import CustomProfile, classify_outcome

TIMEOUTS = Timeouts(connect_s=2, first_byte_s=2, stall_s=2, total_s=5)
PROFILE = CustomProfile(content_pointer=None)  # the testbed dialect; any data event is content


@dataclass(frozen=True)
class Expected:
    status: int
    body: bytes
    reusable: bool
    region: str | None  # the last X-R header's value, as the driver keeps it


def h11_view(raw: bytes) -> Expected:
    """What h11 makes of one response (EOF after `raw` when the framing needs it)."""
    conn = h11.Connection(h11.CLIENT)
    conn.send(h11.Request(method="POST", target="/", headers=[("Host", "x"), ("Content-Length", "0")]))
    conn.send(h11.EndOfMessage())
    conn.receive_data(raw)
    status, body, done, region = 0, b"", False, None
    while not done:
        event = conn.next_event()
        if event is h11.NEED_DATA:
            conn.receive_data(b"")  # EOF: ends a close-delimited body
            continue
        if isinstance(event, h11.Response):
            status = event.status_code
            for name, value in event.headers:
                if name == b"x-r":
                    region = value.decode("latin-1")[:64]
        elif isinstance(event, h11.Data):
            body += bytes(event.data)
        elif isinstance(event, h11.EndOfMessage):
            done = True
    return Expected(status, body, conn.our_state is h11.DONE and conn.their_state is h11.DONE, region)


Seen = tuple[int | None, str, int, int, bool, str | None, str | None]


async def client_view(pieces: list[bytes], close_after: bool, twice: bool,
                      reader: type[Connection]) -> list[Seen]:
    """Serve `pieces` per request on a raw socket; return the client's
    (status, class, bytes, events, keep_alive, code, region)."""

    finished = asyncio.Event()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await serve(reader, writer)
        finally:
            writer.close()
            await writer.wait_closed()
            finished.set()

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                await reader.readuntil(b"\r\n\r\n")
                await reader.readexactly(2)  # the body: {}
                for piece in pieces:
                    writer.write(piece)
                    await writer.drain()
                    await asyncio.sleep(0.0005)
                if close_after:
                    return
        except (asyncio.IncompleteReadError, ConnectionError):
            return

    exchanges = await exchanges_with(handle, 2 if twice else 1, reader, finished)
    return [(ex.status, ex.cls, ex.bytes_received, ex.events, ex.keep_alive, ex.code, ex.region)
            for ex in exchanges]


async def exchanges_with(handle: Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]],
                         count: int, reader: type[Connection],
                         finished: asyncio.Event | None = None) -> list[Exchange]:
    """Up to `count` exchanges on one driver connection to a server running `handle` (fewer
    when the server closes the connection); then waits for `finished` if given."""
    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    request = build_request(method="POST", path="/", host_header="x", body=b"{}")
    results = []
    async with server:
        conn = await open_connection("127.0.0.1", port, tls=None, connect_timeout_s=2,
                                     region_header=b"x-r", stream=PROFILE.stream, reader=reader)
        for _ in range(count):
            ex = await conn.exchange(request, TIMEOUTS)
            results.append(ex)
            if not ex.keep_alive:
                break
        conn.close()
        if finished is not None:
            await asyncio.wait_for(finished.wait(), 5)
    return results


def check(raw: bytes, cuts: list[int], reader: type[Connection]) -> None:
    expected = h11_view(raw)
    bounds = sorted({c % (len(raw) + 1) for c in cuts} | {0, len(raw)})
    pieces = [raw[a:b] for a, b in itertools.pairwise(bounds) if b > a]
    results = asyncio.run(client_view(pieces, close_after=not expected.reusable, twice=expected.reusable,
                                      reader=reader))
    # The protocol's reading of the whole body at once: the client, reading it in pieces,
    # must come to the same class, code and event count.
    stream = PROFILE.stream()
    stream.feed(expected.body, 0.0)
    stream.finish(0.0)
    is_2xx = 200 <= expected.status < 300
    cls, code = classify_outcome(expected.status, None, stream if is_2xx else None)
    if not is_2xx:
        code = error_code_of(expected.body[:256]) if expected.body else None
    events = stream.events if is_2xx else 0
    for status, seen_cls, nbytes, nevents, keep_alive, seen_code, region in results:
        assert (status, seen_cls, seen_code, nbytes, nevents, region) == (
            expected.status, cls, code, len(expected.body), events, expected.region), raw
        assert keep_alive == expected.reusable, raw
    assert len(results) == (2 if expected.reusable else 1)


CORPUS = [
    b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
    b"7\r\ndata: a\r\n2\r\n\n\n\r\n0\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nContent-Length: 18\r\n\r\ndata: a\n\ndata: b\n\n",
    b"HTTP/1.1 200 OK\r\nContent-Length: 29\r\n\r\ndata: a\n\n: ka\n\ndata: [DONE]\n\n",
    b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\ndata: x\n\ndata: y\n\n",
    b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\nConnection: close\r\n\r\ndata: z\n\n",
    b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 29\r\n\r\n{\"error\": \"redis_unavailable\"}"[:-1] + b"}",
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\ndata:\r\n0\r\nX-Trailer: 1\r\n\r\n",
    b"HTTP/1.1 204 No Content\r\n\r\n",
    b"HTTP/1.0 200 OK\r\nContent-Length: 7\r\n\r\ndata: q",
    b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 7\r\n\r\ndata: q",
    # a stream the server gave up on mid-way, reported in-band after the 200
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n9\r\ndata: a\n\n\r\n"
    b"36\r\nevent: error\ndata: {\"error\": \"provider_unavailable\"}\n\n\r\n0\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nevent:error\ndata: {\"error\": \"gateway_unhealthy\"}\n\n",
    # the region: the last one sent, at most 64 characters, never a trailer's
    b"HTTP/1.1 200 OK\r\nx-r: us-east\r\nX-A: 1\r\nx-r: " + b"w" * 70 + b"\r\nContent-Length: 0\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nX-R:  eu-1 \r\nTransfer-Encoding: chunked\r\n\r\n"
    b"9\r\ndata: a\n\n\r\n0\r\nX-R: trailer\r\n\r\n",
]


readers = pytest.mark.parametrize("reader", READERS, ids=lambda r: r.__name__)


@readers
def test_fixed_corpus_matches_h11_in_one_piece_and_byte_by_byte(reader: type[Connection]) -> None:
    for raw in CORPUS:
        check(raw, [], reader)
        check(raw, list(range(0, len(raw), 7)), reader)
        if b"event" in raw:  # byte by byte: the error event straddles every chunk boundary
            check(raw, list(range(len(raw))), reader)


# X-R is the driver's region header here, in one spelling: a server that spells one header
# two ways in one response is beyond what httptools' reader (a dict of names) keeps apart.
_header_name = st.sampled_from(["X-A", "X-R", "X-R", "Cache-Control", "X-Long-Header-Name", "x-served-by-region"])
_header_value = st.text(alphabet="abcdefghij0123456789-_ ", min_size=1, max_size=80).map(str.strip).filter(bool)
_event = st.text(alphabet="abc xyz{}\":,0123456789", max_size=30).map(lambda t: f"data: {t}\n\n".encode())


@st.composite
def responses(draw: st.DrawFn) -> bytes:
    status = draw(st.sampled_from([200, 201, 429, 500, 503]))
    framing = draw(st.sampled_from(["chunked", "length", "close"]))
    body = b"".join(draw(st.lists(_event, max_size=6)))
    if draw(st.booleans()):
        body += b": comment\n\n"
    body += draw(st.sampled_from([b"", b'event: error\ndata: {"error": "provider_unavailable"}\n\n',
                                  b'event:error\ndata: {"error": "gateway_unhealthy"}\n\n']))
    headers = [f"{n}: {v}" for n, v in draw(st.lists(st.tuples(_header_name, _header_value), max_size=4))]
    if framing == "chunked":
        headers.append("Transfer-Encoding: chunked")
        sizes = draw(st.lists(st.integers(1, 40), max_size=8))
        out, i = b"", 0
        for size in sizes:
            piece = body[i : i + size]
            if piece:
                out += b"%x\r\n%s\r\n" % (len(piece), piece)
            i += size
        if body[i:]:
            out += b"%x\r\n%s\r\n" % (len(body[i:]), body[i:])
        payload = out + b"0\r\n\r\n"
    elif framing == "length":
        headers.append(f"Content-Length: {len(body)}")
        payload = body
    else:
        headers.append("Connection: close")
        payload = body
    if framing != "close" and draw(st.booleans()):
        headers.append("Connection: close")
    head = f"HTTP/1.1 {status} X\r\n" + "".join(h + "\r\n" for h in headers) + "\r\n"
    return head.encode() + payload


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(raw=responses(), cuts=st.lists(st.integers(0, 10_000), max_size=4),
       reader=st.sampled_from(READERS))
def test_generated_responses_match_h11(raw: bytes, cuts: list[int], reader: type[Connection]) -> None:
    check(raw, cuts, reader)


def test_error_codes_come_from_the_json_error_field_only() -> None:
    assert error_code_of(b'{"error": "redis_unavailable", "detail": "..."}') == "redis_unavailable"
    assert error_code_of(b'{"error": {"code": "token_invalid"}}') == "token_invalid"
    assert error_code_of(b'{"error": "provider_down", "detail": "' + b"x" * 300) == "provider_down"
    assert error_code_of(b"<html>502 Bad Gateway</html>") is None
    assert error_code_of(b'{"message": "no code"}') is None
    assert error_code_of(b'{"error": {"message": "m", "type": "invalid_request_error", "code": null}}'
                         ) == "invalid_request_error"


@readers
def test_bytes_after_a_response_in_the_same_read_do_not_reach_the_next_response(
        reader: type[Connection]) -> None:
    """The parser outlives a response on a keep-alive connection; a server that writes the
    start of a message nobody asked for right after one leaves the next response intact."""
    ok = b"HTTP/1.1 200 OK\r\nContent-Length: 16\r\n\r\ndata: 1\n\ndata: 2"
    stray = b"HTTP/1.1 200 OK\r\nX-Stray: 1\r\n"

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        for reply in (ok + stray, ok):
            await reader.readuntil(b"\r\n\r\n")
            await reader.readexactly(2)
            writer.write(reply)
            await writer.drain()
        writer.close()

    async def main() -> list[tuple[int | None, str, int, bool]]:
        return [(ex.status, ex.cls, ex.events, ex.keep_alive) for ex in await exchanges_with(handle, 2, reader)]

    # "data: 2" is a half line at the body's end (dropped, as the SSE rules say); neither
    # response carries [DONE]: both are truncated streams.
    assert asyncio.run(main()) == [(200, "truncated", 1, True), (200, "truncated", 1, True)]
