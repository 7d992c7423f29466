"""The worker coroutine against the real SSE test server: accounting, classification, framing."""

from __future__ import annotations

import asyncio
import itertools

import httpx

from chaos.load import LoadConfig, StopSignal
from chaos.recording import STATUS_CLASSES
from tests.load.conftest import SSEServer, start_sse_server
from tests.load.helpers import merged, recorded, run_worker, total


def _config(url: str, **kw: object) -> LoadConfig:
    base: dict[str, object] = {"url": url, "streams": 20, "hold_s": 1.0, "graceful_s": 2.0, "workers": 1}
    base.update(kw)
    return LoadConfig(**base)  # type: ignore[arg-type]


def test_every_started_request_is_recorded_once_and_windows_have_no_gaps(sse_server: SSEServer) -> None:
    windows = run_worker(_config(sse_server.url(events=3, interval_ms=5, region="us-east")))
    assert [w.seq for w in windows] == list(range(len(windows)))
    started = sum(w.started for w in windows)
    assert started > 100
    assert started == recorded(windows) + sum(w.cancelled for w in windows)
    assert total(windows, "2xx") == started
    assert sum(w.events for w in windows) == (3 + 1) * started  # and each one's [DONE]
    assert sum(w.regions.get("us-east", 0) for w in windows) == started
    assert merged(windows, "completion_hist").get_total_count() == started
    for w in windows:
        assert set(w.counts) == set(STATUS_CLASSES)
        assert w.end > w.start


def test_429_5xx_and_4xx_are_classified_with_their_json_error_codes(sse_server: SSEServer) -> None:
    cases = {429: ("429", "rate_limited"), 503: ("5xx", "redis_unavailable"), 401: ("4xx", "token_invalid")}
    for status, (cls, code) in cases.items():
        windows = run_worker(_config(sse_server.url(status=status, error=code), streams=5, hold_s=0.5))
        n = recorded(windows)
        assert n > 0
        assert total(windows, cls) == n, (status, [dict(w.counts) for w in windows])
        assert sum(w.error_codes.get(code, 0) for w in windows) == n
        assert merged(windows, "completion_hist").get_total_count() == 0  # only 2xx completions


def test_chunked_content_length_and_close_delimited_bodies_all_count_their_events(sse_server: SSEServer) -> None:
    for framing in ("chunked", "length", "close"):
        windows = run_worker(_config(sse_server.url(events=4, framing=framing), streams=5, hold_s=0.5))
        n = recorded(windows)
        assert n > 0
        assert total(windows, "2xx") == n, framing
        assert sum(w.events for w in windows) == (4 + 1) * n, framing


def test_keep_alive_connections_are_reused_and_server_closes_reconnect(sse_server: SSEServer) -> None:
    before = sse_server.stats()
    windows = run_worker(_config(sse_server.url(events=1), streams=4, hold_s=0.5))
    after = sse_server.stats()
    n = recorded(windows)
    # each stats call is one request on one connection of its own
    assert after["requests"] - before["requests"] == n + 1
    assert after["connections"] - before["connections"] == 4 + 1  # one per stream, reused throughout
    windows = run_worker(_config(sse_server.url(events=1, close=1), streams=4, hold_s=0.5))
    final = sse_server.stats()
    n = recorded(windows)
    assert total(windows, "2xx") == n
    assert final["connections"] - after["connections"] == n + 1  # Connection: close -> a new one each time


def test_a_stream_cut_after_its_200_is_truncated_and_has_no_latency(sse_server: SSEServer) -> None:
    windows = run_worker(_config(sse_server.url(events=5, interval_ms=5, abort_after=2), streams=3, hold_s=0.5))
    n = recorded(windows)
    assert n > 0
    assert total(windows, "truncated") == n
    assert total(windows, "2xx") == 0
    # Latency percentiles are over complete streams only: a cut stream's first token is not one.
    assert merged(windows).get_total_count() == 0
    assert merged(windows, "ttfb_hist").get_total_count() == 0


def test_a_200_stream_that_ends_cleanly_without_its_done_marker_is_truncated(sse_server: SSEServer) -> None:
    windows = run_worker(_config(sse_server.url(events=3, interval_ms=5, done=0), streams=3, hold_s=0.5))
    n = recorded(windows)
    assert n > 0
    assert total(windows, "truncated") == n
    assert total(windows, "2xx") == 0


def test_a_200_stream_ending_in_an_sse_error_event_is_broken_with_its_code(sse_server: SSEServer) -> None:
    """A gateway that loses its upstream mid-stream ends the 200 properly but with
    `event: error`: the client got a broken answer, counted as a broken stream with the code."""
    url = sse_server.url(events=5, interval_ms=5, error_after=2, error="provider_unavailable")
    windows = run_worker(_config(url, streams=3, hold_s=0.5))
    n = recorded(windows)
    assert n > 0
    assert total(windows, "broken") == n
    assert total(windows, "2xx") == 0
    assert sum(w.error_codes.get("provider_unavailable", 0) for w in windows) == n
    assert sum(w.class_codes.get("broken:provider_unavailable", 0) for w in windows) == n


def test_a_stream_with_no_event_for_the_stall_timeout_is_stalled(sse_server: SSEServer) -> None:
    """Events 1 s apart, stall timeout 0.3 s: every stream stalls after its first event."""
    windows = run_worker(_config(sse_server.url(events=3, interval_ms=1000), streams=3, hold_s=0.2,
                                 stall_timeout_s=0.3, graceful_s=3.0))
    n = recorded(windows)
    assert n == 3
    assert total(windows, "stalled") == n


def test_openai_streams_are_judged_by_their_protocol_with_token_figures(sse_server: SSEServer) -> None:
    from chaos.protocols import OpenAIProfile

    url = sse_server.url(events=5, interval_ms=20, format="openai")
    windows = run_worker(_config(url, streams=3, hold_s=0.6, protocol=OpenAIProfile(model="t")))
    n = recorded(windows)
    assert n > 0
    assert total(windows, "2xx") == n
    assert sum(w.output_tokens for w in windows) == 5 * n  # from the usage chunk
    assert sum(w.token_sources.get("usage", 0) for w in windows) == n
    assert sum(w.first_kinds.get("content", 0) for w in windows) == n
    itl = merged(windows, "itl_hist")
    assert itl.get_total_count() == 4 * n  # four gaps between five content reads
    assert 15_000 <= itl.get_value_at_percentile(50) <= 60_000
    tpot = merged(windows, "tpot_hist")
    assert tpot.get_total_count() == n
    first = merged(windows)
    ttfb = merged(windows, "ttfb_hist")
    assert first.get_total_count() == ttfb.get_total_count() == n
    # The same stream read as the testbed's dialect has no content: complete by its marker,
    # but with no first token (preflight's canary refuses such a target).
    wrong = run_worker(_config(url, streams=2, hold_s=0.3))
    assert merged(wrong).get_total_count() == 0
    assert sum(w.output_tokens for w in wrong) == 0


def test_refused_connections_are_connect_failures(sse_server: SSEServer) -> None:
    from tests.servers import free_port

    windows = run_worker(_config(f"http://127.0.0.1:{free_port()}/api/chat", streams=2, hold_s=0.3))
    n = recorded(windows)
    assert n > 0
    assert sum(w.transport.get("connect", 0) for w in windows) == n


def test_a_200_head_then_silence_is_a_stall_not_a_first_byte_timeout(sse_server: SSEServer) -> None:
    """The head came at once; the first event 2 s later. The first-byte bound was met by the
    head; the stall timeout (0.2 s) decides: stalled."""
    windows = run_worker(_config(
        sse_server.url(first_ms=2000), streams=2, hold_s=0.2, first_byte_timeout_s=0.2,
        stall_timeout_s=0.2, graceful_s=3.0,
    ))
    n = recorded(windows)
    assert n == 2
    assert total(windows, "stalled") == n


def test_graceful_end_cancels_streams_still_running_and_keeps_the_books_balanced(sse_server: SSEServer) -> None:
    windows = run_worker(_config(
        sse_server.url(events=100, interval_ms=100), streams=10, hold_s=0.3, graceful_s=0.3,
    ))
    started = sum(w.started for w in windows)
    cancelled = sum(w.cancelled for w in windows)
    assert started == 10
    assert cancelled == 10
    assert recorded(windows) == 0
    assert windows[-1].in_flight == 0


def test_stop_signal_ends_the_worker_early_and_in_flight_finish_within_grace(sse_server: SSEServer) -> None:
    def stop_soon(signal: StopSignal) -> None:
        signal.request()

    windows = run_worker(
        _config(sse_server.url(first_ms=100), streams=5, hold_s=30.0, graceful_s=5.0), during=stop_soon,
    )
    duration = windows[-1].end - windows[0].start
    assert duration < 3.0
    assert sum(w.started for w in windows) == recorded(windows) + sum(w.cancelled for w in windows)
    assert sum(w.cancelled for w in windows) == 0  # 100 ms streams finish within the grace


def test_a_keep_alive_connection_closed_under_the_next_request_is_retried_once_fresh(sse_server: SSEServer) -> None:
    """The server hangs up after each response without saying so: a request sent on the
    dead connection fails before any byte and is retried once on a new one, counted once."""
    windows = run_worker(_config(sse_server.url(events=2, hangup=1), streams=4, hold_s=0.5))
    n = recorded(windows)
    assert n > 20
    assert total(windows, "2xx") == n, [dict(w.transport) for w in windows]
    assert sum(w.started for w in windows) == n + sum(w.cancelled for w in windows)
    assert sum(w.events for w in windows) == (2 + 1) * n


def test_requests_in_flight_on_reused_connections_at_the_graceful_end_are_cancelled() -> None:
    """Streams deep in keep-alive reuse when the server stalls: the graceful end cancels
    each one's request in flight, once, and the books balance."""
    server = start_sse_server()  # its own: the stall must not reach other tests

    def stall_soon(signal: StopSignal) -> None:
        del signal
        stall = f"{server.base}/admin/stall?ms=4000"
        asyncio.get_running_loop().call_later(0.4, lambda: httpx.get(stall, timeout=5))

    try:
        windows = run_worker(
            _config(server.url(events=1), streams=6, hold_s=0.6, graceful_s=0.3), during=stall_soon,
        )
    finally:
        server.process.terminate()
        server.process.wait(timeout=10)
    started = sum(w.started for w in windows)
    cancelled = sum(w.cancelled for w in windows)
    assert recorded(windows) > 6 * 10  # every stream reused its connection before the stall
    assert cancelled == 6
    assert started == recorded(windows) + cancelled
    assert windows[-1].in_flight == 0


def test_windows_end_at_every_phase_boundary_too(sse_server: SSEServer) -> None:
    """Cuts at 0.5 s and 1.25 s after the load start: windows are [0, .5), [.5, 1), [1, 1.25),
    [1.25, 2), ..., so none straddles a phase boundary, and the books still balance."""
    windows = run_worker(_config(sse_server.url(events=1), streams=4, hold_s=2.2,
                                 window_cuts_s=(0.5, 1.25)))
    t0 = windows[0].start
    edges = [round(w.start - t0, 6) for w in windows[:6]]
    assert edges == [0.0, 0.5, 1.0, 1.25, 2.0, 3.0][: len(edges)]
    for a, b in itertools.pairwise(windows):
        assert b.start == a.end  # contiguous
    started = sum(w.started for w in windows)
    assert started == recorded(windows) + sum(w.cancelled for w in windows)
    assert [w.seq for w in windows] == list(range(len(windows)))


def test_window_edges_merge_whole_seconds_and_cuts() -> None:
    from chaos.load.schedule import WindowEdges

    edges = WindowEdges((2.5, 3.0, 3.0004, 4.25, 0.999))
    assert [edges.edge(k) for k in range(9)] == [0.0, 1.0, 2.0, 2.5, 3.0, 4.0, 4.25, 5.0, 6.0]
    assert edges.count_until(4.25) == 6
    assert edges.count_until(5.0) == 7


def test_requests_that_did_not_complete_are_named_by_their_request_id(sse_server: SSEServer) -> None:
    url = sse_server.url(events=3, interval_ms=5, error_after=1, error="provider_unavailable")
    windows = run_worker(_config(url, streams=3, hold_s=0.5, run_id="run-ledger"))
    named = [f for w in windows for f in w.failed]
    more = sum(w.failed_more for w in windows)
    assert len(named) + more == total(windows, "broken") > 0
    ids = [f[0] for f in named]
    assert len(set(ids)) == len(ids)
    for rid, cls, code, start, outcome_at in named:
        assert rid.startswith("run-ledger-w0.0-")
        assert (cls, code) == ("broken", "provider_unavailable")
        assert start <= outcome_at
    window_of = {f[0]: w for w in windows for f in w.failed}
    for rid, _, _, _, outcome_at in named:
        w = window_of[rid]
        assert w.start <= outcome_at < w.end  # booked in the window its outcome happened in
