"""The compiled response reader (chaos/load/_wire.c) reads what httptools reads.

Both drive the same llhttp; these tests hold the C glue (its callbacks, the pause at each
message end, the region header, the kept bytes) to httptools' reading of the same bytes, in
any pieces, on good responses and on responses with bytes damaged anywhere.
test_http_reference.py holds both readers, as connections, to h11.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import httptools
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chaos.load import http

_wire = pytest.importorskip("chaos.load._wire")

REGION = b"X-Served-By-Region"


def test_the_compiled_reader_is_built_and_used() -> None:
    """Built wherever a C compiler is (scripts/setup.sh, CI): without it every read costs a
    Python call per header and per body chunk (benchmarks/worker_profile.py --reader)."""
    assert http.READERS[0] is http.WireConnection
    assert http.HttptoolsConnection in http.READERS


@dataclass
class View:
    """What a reader made of the bytes: the same fields for both."""

    status: int | None = None
    region: str | None = None
    body: bytes = b""
    complete: bool = False
    keep_alive: bool = False
    error: bool = False
    extra: bool = False
    heads: list[int] = field(default_factory=list)  # the piece in which the head completed


def wire_view(pieces: list[bytes]) -> View:
    reader = _wire.Response(REGION)
    view = View()
    for i, piece in enumerate(pieces):
        if view.complete or view.error:
            break
        flags = reader.feed(piece)
        if flags & _wire.HEAD:
            view.heads.append(i)
            view.status = reader.status
            view.region = reader.region
        if flags & _wire.BODY:
            view.body += reader.body
        view.complete = bool(flags & _wire.COMPLETE)
        view.error = bool(flags & _wire.ERROR)
        view.extra = bool(flags & _wire.EXTRA)
    view.keep_alive = reader.keep_alive
    if view.status is not None and not 200 <= view.status < 300:
        view.body = reader.head
    return view


class _Httptools:
    """httptools' reading, as chaos.load.http.HttptoolsConnection reads (the region: the
    last value sent, whatever its spelling)."""

    def __init__(self) -> None:
        self.view = View()
        self.headers: list[tuple[bytes, bytes]] = []
        self.pieces: list[bytes] = []
        self.messages = 0
        self.piece = 0
        self.parser = httptools.HttpResponseParser(self)

    def on_message_begin(self) -> None:
        self.messages += 1
        if self.messages > 1:
            raise IndexError("a second message")

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name, value))

    def on_headers_complete(self) -> None:
        view = self.view
        view.heads.append(self.piece)
        view.status = self.parser.get_status_code()
        value = next((v for k, v in reversed(self.headers) if k.lower() == REGION.lower()), None)
        view.region = None if value is None else value.decode("latin-1").rstrip(" \t")[:64]

    def on_body(self, body: bytes) -> None:
        self.pieces.append(body)

    def on_message_complete(self) -> None:
        self.view.complete = True
        keep = self.parser.should_keep_alive()
        if keep and any(k.lower() == b"connection" for k, _ in self.headers):
            keep = self.parser.get_http_version() == "1.1"
        self.view.keep_alive = keep


def httptools_view(pieces: list[bytes]) -> View:
    reader = _Httptools()
    view = reader.view
    for i, piece in enumerate(pieces):
        if view.complete or view.error:
            break
        reader.piece = i
        try:
            reader.parser.feed_data(piece)
        except httptools.HttpParserUpgrade:
            view.error = not view.complete  # after a complete 101 it is httptools' upgrade pause
        except httptools.HttpParserError:
            if view.complete:
                view.extra = True  # the second message's start: bytes after the end
            else:
                view.error = True
    view.body = b"".join(reader.pieces)
    if view.status is not None and not 200 <= view.status < 300:
        view.body = view.body[:256]
    if not view.complete:
        view.keep_alive = False
    return view


def same(raw: bytes, cuts: list[int]) -> None:
    bounds = sorted({c % (len(raw) + 1) for c in cuts} | {0, len(raw)})
    pieces = [raw[a:b] for a, b in itertools.pairwise(bounds) if b > a]
    want, got = httptools_view(pieces), wire_view(pieces)
    if want.error:  # a parse error: the connection is dropped, what came before is moot
        assert (got.error, got.complete) == (True, False), raw
        return
    assert got == want, raw


CORPUS = [
    b"HTTP/1.1 200 OK\r\nX-Served-By-Region: us-east\r\nTransfer-Encoding: chunked\r\n\r\n"
    b"7\r\ndata: a\r\n2\r\n\n\n\r\n0\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nContent-Length: 18\r\n\r\ndata: a\n\ndata: b\n\n",
    b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\ndata: x\n\n",
    b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 7\r\n\r\ndata: q",
    b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 300\r\n\r\n" + b"e" * 300,
    b"HTTP/1.1 204 No Content\r\n\r\n",
    b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
    b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\n",
    b"HTTP/1.1 200 OK\r\nx-served-by-region: a\r\nX-Served-By-Region:  b \t\r\nContent-Length: 0\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nX-Served-By-Region: " + b"r" * 63 + b"  s\r\nContent-Length: 0\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nX-Served-By-Region-Long: no\r\nX-Served-By-Regio: no\r\nContent-Length: 0\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nX-" + b"n" * 100 + b": v\r\nTransfer-Encoding: chunked\r\n\r\n"
    b"3\r\nabc\r\n0\r\nX-Served-By-Region: trailer\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nabcdef",
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n",
    b"NOT HTTP\r\n\r\n",
]


@pytest.mark.parametrize("raw", CORPUS)
def test_fixed_corpus_reads_as_httptools_reads_it_whole_and_byte_by_byte(raw: bytes) -> None:
    same(raw, [])
    same(raw, list(range(len(raw))))


_ok = st.sampled_from(CORPUS[:4] + CORPUS[9:13])


@settings(max_examples=300, deadline=None)
@given(raw=_ok, cuts=st.lists(st.integers(0, 1000), max_size=6),
       damage=st.lists(st.tuples(st.integers(0, 1000), st.integers(0, 255)), max_size=3))
def test_damaged_responses_read_as_httptools_reads_them(
        raw: bytes, cuts: list[int], damage: list[tuple[int, int]]) -> None:
    data = bytearray(raw)
    for at, byte in damage:
        data[at % len(data)] = byte
    same(bytes(data), cuts)


def test_a_read_after_the_end_is_extra_and_a_reset_reads_the_next_response() -> None:
    reader = _wire.Response(REGION)
    ok = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
    assert reader.feed(ok) & _wire.COMPLETE
    assert reader.feed(b"HTTP/1.1") == _wire.EXTRA
    reader.reset()
    assert (reader.status, reader.region, reader.complete) == (-1, None, False)
    flags = reader.feed(ok)
    assert flags & (_wire.HEAD | _wire.BODY | _wire.COMPLETE) == _wire.HEAD | _wire.BODY | _wire.COMPLETE
    assert (reader.status, reader.body, reader.bytes, reader.keep_alive) == (200, b"ok", 2, True)


def test_a_large_body_in_one_read_is_handed_over_whole() -> None:
    body = bytes(range(256)) * 4096  # 1 MiB: the reader's buffer grows past its first 4 KiB
    reader = _wire.Response(REGION)
    flags = reader.feed(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
    assert flags & _wire.COMPLETE
    assert (reader.body, reader.bytes) == (body, len(body))


def test_a_non_2xx_body_keeps_its_first_256_bytes_only() -> None:
    reader = _wire.Response(REGION)
    flags = reader.feed(b"HTTP/1.1 429 Too Many\r\nContent-Length: 1000\r\n\r\n" + b"x" * 1000)
    assert flags & (_wire.BYTES | _wire.BODY) == _wire.BYTES
    assert (reader.head, reader.bytes, reader.status) == (b"x" * 256, 1000, 429)


def test_header_names_of_64_bytes_match_and_longer_ones_never_do() -> None:
    """The reader compares whole names of up to 64 bytes: a 65-byte name, the region
    header's or a server's, matches nothing (no read past what was kept)."""
    for length in (64, 65, 200):
        name = b"X-" + b"r" * (length - 2)
        reader = _wire.Response(name)
        reader.feed(b"HTTP/1.1 200 OK\r\n%s: eu\r\nContent-Length: 0\r\n\r\n" % name.lower())
        assert reader.region == ("eu" if length <= 64 else None), length
        other = _wire.Response(b"X-" + b"r" * 62)  # 64 bytes: a longer name that starts alike
        other.feed(b"HTTP/1.1 200 OK\r\n%s: eu\r\nContent-Length: 0\r\n\r\n" % name)
        assert other.region == ("eu" if length == 64 else None), length


def test_only_bytes_are_read() -> None:
    reader = _wire.Response(REGION)
    with pytest.raises(TypeError):
        reader.feed(bytearray(b"HTTP/1.1 200 OK\r\n"))  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        _wire.Response("x-region")  # type: ignore[arg-type]
