"""AvailabilityProber against a real HTTP server with health and a streamed chat endpoint."""

from __future__ import annotations

import anyio
import httpx

from chaos.observe import AvailabilityProber
from chaos.recording import ProbeSecond
from tests.observe.http_servers import Target, serve
from tests.servers import free_port


def _probe(base: str, **kw: object) -> tuple[ProbeSecond, AvailabilityProber]:
    out: list[ProbeSecond] = []
    prober = AvailabilityProber(base, out.append, clock=lambda: 42.0, timeout_s=2.0, **kw)  # type: ignore[arg-type]

    async def main() -> ProbeSecond:
        async with httpx.AsyncClient() as client:
            return await prober.probe_once(client)

    result = anyio.run(main)
    assert out == [result]
    return result, prober


def test_second_is_available_when_health_and_streamed_canary_succeed() -> None:
    with serve(Target(region="us-west")) as base:
        p, prober = _probe(base, token="secret")
    assert (p.t, p.health_ok, p.chat_ok, p.available, p.region, p.error) == (
        42.0, True, True, True, "us-west", None)
    assert p.chat_first_token_ms is not None
    assert p.chat_first_token_ms > 0
    assert prober.statistics().available == 1


def test_chat_error_records_only_the_short_code() -> None:
    with serve(Target(chat_status=503, chat_error_code="redis_unavailable")) as base:
        p, _ = _probe(base)
    assert (p.health_ok, p.chat_ok, p.available) == (True, False, False)
    assert p.error == "chat 503 redis_unavailable"
    assert "secret" not in (p.error or "")


def test_a_200_canary_stream_that_breaks_with_an_error_event_is_unavailable() -> None:
    """The gateway lost its upstream mid-answer and said so in-band (event and data arrive in
    separate chunks): the canary was not served."""
    with serve(Target(chat_breaks=True, chat_error_code="provider_unavailable")) as base:
        p, _ = _probe(base)
    assert (p.health_ok, p.chat_ok, p.available) == (True, False, False)
    assert p.error == "chat 200 stream broken provider_unavailable"


def test_unhealthy_gateway_makes_the_second_unavailable() -> None:
    with serve(Target(health_status=503)) as base:
        p, prober = _probe(base)
    assert (p.health_ok, p.chat_ok, p.available, p.error) == (False, True, False, "health 503")
    assert prober.statistics().unavailable == 1


def test_refused_port_is_unavailable_not_a_gap() -> None:
    p, _ = _probe(f"http://127.0.0.1:{free_port()}")
    assert (p.health_ok, p.chat_ok) == (False, False)
    assert p.error is not None
    assert "ConnectError" in p.error


def test_run_probes_once_per_interval() -> None:
    out: list[ProbeSecond] = []

    async def main(base: str) -> None:
        three = anyio.Event()

        def emit(p: ProbeSecond) -> None:
            out.append(p)
            if sum(1 for q in out if q.available is not None) >= 3:
                three.set()

        prober = AvailabilityProber(base, emit, interval_s=0.05, timeout_s=1.0)
        with anyio.fail_after(20):
            async with anyio.create_task_group() as tg:
                tg.start_soon(prober.run)
                await three.wait()
                tg.cancel_scope.cancel()

    with serve(Target()) as base:
        anyio.run(main, base)
    real = [p for p in out if p.available is not None]
    assert len(real) >= 3
    assert all(p.available for p in real)
