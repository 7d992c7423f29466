"""The floor of a Python load client: keep-alive POSTs on uvloop with the httptools parser,
reading nothing of the body (no SSE, no JSON, no instants, no histograms), as hey and wrk
read it. benchmarks/load_driver.py runs it beside the driver, so its line shows what any
Python client on this stack pays per request to move the same bytes, and the driver's
ratio to it what judging every stream costs.

    python benchmarks/lean_client.py URL BODY SECONDS CONNECTIONS

Prints `<complete responses> <CPU seconds>`: CPU is this process's rusage from the first
request to the end (the interpreter's start-up left out, as the driver's figure leaves it
out). A response that is not a complete 2xx stops the run with exit 1.
"""

from __future__ import annotations

import asyncio
import resource
import sys
import time
from urllib.parse import urlsplit

import httptools
import uvloop


def cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class Lean(asyncio.Protocol):
    """One connection: the next request as soon as the last response is complete."""

    def __init__(self, request: bytes, stop_at: float, done: asyncio.Future[None]) -> None:
        self.request = request
        self.stop_at = stop_at
        self.done = done
        self.parser = httptools.HttpResponseParser(self)
        self.complete = False
        self.count = 0
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.transport.write(self.request)

    def on_message_complete(self) -> None:
        self.complete = True
        parser = self.parser
        if not 200 <= parser.get_status_code() < 300 or not parser.should_keep_alive():
            self.stop(f"status {parser.get_status_code()}, not a 2xx kept alive")

    def stop(self, why: str) -> None:
        if not self.done.done():
            self.done.set_exception(RuntimeError(f"lean client: {why}"))
        if self.transport is not None:
            self.transport.abort()

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self.stop(f"unparsable response ({exc})")
            return
        if self.complete and not self.done.done():
            self.complete = False
            self.count += 1
            if time.monotonic() < self.stop_at:
                assert self.transport is not None
                self.transport.write(self.request)
            elif not self.done.done():
                self.done.set_result(None)

    def connection_lost(self, exc: Exception | None) -> None:
        self.stop(f"connection lost ({exc})")


async def main(url: str, body: bytes, seconds: float, connections: int) -> tuple[int, float]:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    request = (f"POST {parts.path}?{parts.query} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
               f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n").encode() + body
    loop = asyncio.get_running_loop()
    start_cpu = cpu_s()
    stop_at = time.monotonic() + seconds
    protocols: list[Lean] = []
    waits: list[asyncio.Future[None]] = []
    for _ in range(connections):
        done: asyncio.Future[None] = loop.create_future()
        _, protocol = await loop.create_connection(lambda d=done: Lean(request, stop_at, d), host, port)
        protocols.append(protocol)
        waits.append(done)
    await asyncio.gather(*waits)
    return sum(p.count for p in protocols), cpu_s() - start_cpu


if __name__ == "__main__":
    if len(sys.argv) != 5:
        raise SystemExit(__doc__.split("\n\n")[1].strip())
    try:
        count, used = uvloop.run(main(sys.argv[1], sys.argv[2].encode(), float(sys.argv[3]), int(sys.argv[4])))
    except (OSError, RuntimeError) as exc:
        raise SystemExit(str(exc)) from None
    print(count, f"{used:.3f}")
