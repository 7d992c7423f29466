"""The load worker: one coroutine that drives its share of the load and emits a window per second.

`run(share, emit, stop)` is the whole contract a backend needs (local processes today, a
cluster engine later): it creates no event loop of its own choosing, installs no signal
handlers, works outside the main thread, and stops by itself when the controller goes
silent or the run's maximum duration passes.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from chaos.load.config import LoadConfig
from chaos.load.exchange import Exchange, Timeouts, request_parts
from chaos.load.http import Connection, open_connection
from chaos.load.limits import check_fd_limit
from chaos.load.monitor import CpuMeter, LagMonitor
from chaos.load.schedule import Ramp, WindowEdges, arrivals, stream_window
from chaos.load.window import WindowAccumulator
from chaos.recording import LoadWindow

_monotonic = time.monotonic
ERROR_BACKOFF_S = 0.1  # closed model: pause after a transport failure, so a refused port is not a busy loop
STOP_POLL_S = 0.05


@dataclass(frozen=True, slots=True)
class WorkerShare:
    """One worker's part of the load. Closed model: global stream indices
    [stream_first, stream_first + stream_count). Open model: `rate_per_s` arrivals per
    second interleaved with the other workers by `phase`, at most `max_in_flight`."""

    config: LoadConfig
    worker_id: str
    worker_index: int
    workers: int
    stream_first: int
    stream_count: int
    rate_per_s: float
    phase: float
    max_in_flight: int
    start_wall: float  # the load starts here (wall clock); windows are [start + n, start + n + 1)
    incarnation: int = 0
    heartbeat_timeout_s: float = 10.0

    @property
    def max_duration_s(self) -> float:
        """After this long past `start_wall` the worker stops whatever it hears."""
        return self.config.duration_s + self.config.graceful_s + 30.0

    @property
    def connections_needed(self) -> int:
        return self.stream_count if self.config.model == "closed" else self.max_in_flight


class StopSignal:
    """What the worker hears from its controller: a stop request and a heartbeat.

    Plain attributes set by the backend in the worker's own thread and polled by the
    worker every STOP_POLL_S, so no loop-bound primitive crosses threads.
    """

    def __init__(self) -> None:
        self.requested = False
        self.last_heard = time.monotonic()

    def request(self) -> None:
        self.requested = True

    def heard(self) -> None:
        self.last_heard = time.monotonic()


async def run(share: WorkerShare, emit: Callable[[LoadWindow], None], stop: StopSignal) -> None:
    """Drive `share` until its schedule ends or `stop` asks; emit one window per second
    and a final one that carries the cancelled requests."""
    check_fd_limit(share.connections_needed, raise_soft=True)
    await _Worker(share, emit, stop).main()


class _Worker:
    def __init__(self, share: WorkerShare, emit: Callable[[LoadWindow], None], stop: StopSignal) -> None:
        cfg = share.config
        self.share, self.cfg, self.emit, self.stop = share, cfg, emit, stop
        self.loop = asyncio.get_running_loop()
        self.target = cfg.target()
        self.tls = ssl.create_default_context() if self.target.tls else None
        self.timeouts = Timeouts(
            cfg.connect_timeout_s, cfg.first_byte_timeout_s, cfg.stall_timeout_s, cfg.total_timeout_s
        )
        self.region_header = cfg.region_header.encode("latin-1")
        self.protocol = cfg.protocol
        self.requests: dict[int, tuple[bytes, bytes]] = {}  # subject -> (head, body)
        # Every request carries a unique id (the failed-request ledger names it, so an SRE
        # finds it in the platform's own logs): "<run>-<worker>.<incarnation>-<n>".
        self.rid_name = f"{cfg.run_id[-12:]}-{share.worker_id}.{share.incarnation}-"
        self.rid_line = f"{cfg.request_id_header}: {self.rid_name}".encode("latin-1")
        self.rid_next = 0
        self.acc = WindowAccumulator(cfg.run_id, share.worker_id, share.incarnation)
        self.acc.rid_name = self.rid_name
        self.edges = WindowEdges(cfg.window_cuts_s)
        self.lag = LagMonitor(self.loop)
        self.cpu = CpuMeter()
        self.in_flight = 0
        self.stopping = False
        # Invariant: t0 is start_wall on this process's monotonic clock.
        self.t0 = time.monotonic() + (share.start_wall - time.time())
        self.acc.due = self.t0 + self.edges.edge(1)
        self.acc.wall_offset = share.start_wall - self.t0  # monotonic -> wall clock
        self.acc.roll = self._roll
        self.ramp = Ramp(cfg.ramp_up_s, cfg.hold_s, cfg.ramp_down_s)

    # -- lifecycle ---------------------------------------------------------------------
    async def main(self) -> None:
        self.lag.start()
        ticker = self.loop.create_task(self._windows())
        load: set[asyncio.Task[None]] = set()
        try:
            if self.cfg.model == "closed":
                for k in range(self.share.stream_first, self.share.stream_first + self.share.stream_count):
                    load.add(self.loop.create_task(self._stream(k)))
            else:
                load.add(self.loop.create_task(self._arrivals(load)))
            await self._wait_for_end()
            self.stopping = True  # ramp-down now: no new request starts
            grace_end = time.monotonic() + self.cfg.graceful_s
            while self.in_flight > 0 and time.monotonic() < grace_end and not self._must_quit():  # noqa: ASYNC110  # also watches the heartbeat
                await asyncio.sleep(min(STOP_POLL_S, max(0.0, grace_end - time.monotonic())))
        finally:
            for task in load:
                task.cancel()
            await asyncio.gather(*load, return_exceptions=True)
            ticker.cancel()
            await asyncio.gather(ticker, return_exceptions=True)
            self.lag.stop()
        self._emit_window(final=True)

    async def _wait_for_end(self) -> None:
        end = self.t0 + self.cfg.duration_s
        while not self.stop.requested and not self._must_quit():  # StopSignal is plain attributes set from outside the loop
            now = time.monotonic()
            if now >= end:
                return
            await asyncio.sleep(min(STOP_POLL_S, end - now))

    def _must_quit(self) -> bool:
        """The controller went silent, or the run has lasted longer than it possibly can."""
        now = time.monotonic()
        return (
            now - self.stop.last_heard > self.share.heartbeat_timeout_s
            or now > self.t0 + self.share.max_duration_s
        )

    async def _windows(self) -> None:
        while True:
            await _sleep_until(self.acc.due)
            if time.monotonic() >= self.acc.due:  # else an outcome already rolled it
                self._roll()

    def _roll(self) -> None:
        """Close the current window at its edge and start the next one."""
        self._emit_window(final=False)
        self.acc.due = self.t0 + self.edges.edge(self.acc.seq + 1)

    def _emit_window(self, *, final: bool) -> None:
        seq = self.acc.seq
        start = self.share.start_wall + self.edges.edge(seq)
        end = max(start, time.time()) if final else self.share.start_wall + self.edges.edge(seq + 1)
        self.emit(self.acc.close(
            start_wall=start, end_wall=end, in_flight=self.in_flight,
            loop_lag_p99_ms=self.lag.take_p99_ms(), cpu_percent=self.cpu.take_percent(),
            max_lag_p99_ms=self.cfg.max_lag_p99_ms, max_cpu_percent=self.cfg.max_cpu_percent,
        ))

    # -- models ------------------------------------------------------------------------
    async def _stream(self, k: int) -> None:
        start_off, stop_off = stream_window(self.ramp, k, self.cfg.streams)
        await _sleep_until(self.t0 + start_off)
        stop_at = self.t0 + stop_off
        template = self._request_for(k)
        conn: Connection | None = None
        try:
            while not self.stopping and time.monotonic() < stop_at:
                if conn is not None and self.cfg.think_time_s == 0 and conn.idle_reusable:
                    conn, kind = await self._keep_alive_run(conn, template, stop_at)
                else:
                    conn, kind = await self._request(conn, template, None)
                pause = self.cfg.think_time_s + (ERROR_BACKOFF_S if kind is not None else 0.0)
                if pause > 0:
                    await asyncio.sleep(pause)
        finally:
            if conn is not None:
                conn.close()

    async def _keep_alive_run(
        self, conn: Connection, template: tuple[bytes, bytes], stop_at: float,
    ) -> tuple[Connection | None, str | None]:
        """Back-to-back requests on `conn`, each sent from the callback that ends the one
        before (no task switch per request), until one fails, the connection cannot be
        reused, or the stream must stop. Returns like `_request`."""
        run = _KeepAliveRun(self, conn, template, stop_at)
        try:
            outcome = await run.ended
        except asyncio.CancelledError:
            if run.in_flight:
                conn.close()
                self.in_flight -= 1
                self.acc.cancelled += 1
            raise
        if outcome is not None:
            return outcome
        # The server closed the idle keep-alive connection under the last request: retry
        # it once, fresh; it is still counted in flight and started, not yet recorded.
        try:
            exchange, fresh = await self._fresh_exchange(run.request)
        except asyncio.CancelledError:
            self.in_flight -= 1
            self.acc.cancelled += 1
            raise
        self.in_flight -= 1
        self.acc.record(exchange, run.start, run.rid)
        return (fresh if exchange.keep_alive else None), exchange.kind

    async def _arrivals(self, tasks: set[asyncio.Task[None]]) -> None:
        pool: deque[Connection] = deque()
        cap = self.share.max_in_flight
        slack = self.cfg.late_slack_s
        i = 0
        try:
            for offset in arrivals(self.ramp, self.share.rate_per_s, self.share.phase):
                due = self.t0 + offset
                await _sleep_until(due)
                if self.stopping:
                    return
                if self.in_flight >= cap:
                    self.acc.dropped += 1
                else:
                    if time.monotonic() - due > slack:
                        self.acc.late += 1
                    subject = i * self.share.workers + self.share.worker_index
                    task = self.loop.create_task(self._open_request(pool, subject, due))
                    tasks.add(task)
                    task.add_done_callback(tasks.discard)
                i += 1
        finally:
            while pool:
                pool.pop().close()

    async def _open_request(self, pool: deque[Connection], subject: int, due: float) -> None:
        conn: Connection | None = None
        while pool and conn is None:
            candidate = pool.pop()
            conn = candidate if candidate.idle_reusable else None
        conn, _ = await self._request(conn, self._request_for(subject), due)
        if conn is not None:
            if self.stopping:
                conn.close()
            else:
                pool.append(conn)

    # -- one request -------------------------------------------------------------------
    async def _request(
        self, conn: Connection | None, template: tuple[bytes, bytes], intended: float | None,
    ) -> tuple[Connection | None, str | None]:
        """One counted request; returns the connection to reuse and the transport kind."""
        request, rid = self.stamp(template)
        acc = self.acc
        acc.started += 1
        self.in_flight += 1
        start = time.monotonic() if intended is None else intended
        try:
            if conn is not None and conn.idle_reusable:
                exchange = await conn.exchange(request, self.timeouts)
                if conn.silent_failure:
                    # The server closed the idle keep-alive connection: retry once, fresh.
                    exchange, conn = await self._fresh_exchange(request)
            else:
                exchange, conn = await self._fresh_exchange(request)
        except asyncio.CancelledError:
            self.in_flight -= 1
            acc.cancelled += 1
            raise
        self.in_flight -= 1
        acc.record(exchange, start, rid)
        return (conn if exchange.keep_alive else None), exchange.kind

    async def _fresh_exchange(self, request: bytes) -> tuple[Exchange, Connection | None]:
        """`request` on a new connection (a failed connect is an Exchange too)."""
        try:
            conn = await open_connection(
                self.target.host, self.target.port, tls=self.tls,
                connect_timeout_s=self.timeouts.connect_s, region_header=self.region_header,
                stream=self.protocol.stream,
            )
        except (OSError, TimeoutError):
            return _connect_failure(), None
        return await conn.exchange(request, self.timeouts), conn

    def _request_for(self, k: int) -> tuple[bytes, bytes]:
        subject = k % self.cfg.subjects
        template = self.requests.get(subject)
        if template is None:
            name = f"s{subject}"
            token = self.cfg.token_template.replace("{subject}", name) or None
            shape = self.protocol.request(self.cfg.message, name, token)
            template = request_parts(
                method="POST", path=self.target.path, host_header=self.target.host_header,
                body=shape.body, headers=shape.headers + self.cfg.headers,
            )
            self.requests[subject] = template
        return template

    def stamp(self, template: tuple[bytes, bytes]) -> tuple[bytes, int]:
        """The request bytes with the next request id, and that id's number."""
        n = self.rid_next
        self.rid_next = n + 1
        head, body = template
        return b"%s%s%d\r\n\r\n%s" % (head, self.rid_line, n, body), n


class _KeepAliveRun:
    """The closed model's hot loop: requests back to back on one keep-alive connection,
    driven from the connection's end-of-exchange callback.

    `ended` resolves with (connection to reuse, transport kind) like `_request`, or with
    None when the last request hit a stale keep-alive connection and must be retried.
    Invariant: while `in_flight`, exactly one request of this run is started, neither
    recorded nor cancelled, and counted once in the worker's `in_flight`; `start` is its
    start.
    """

    __slots__ = (
        "acc", "ended", "in_flight", "on_done", "request", "rid", "start", "stop_at", "template",
        "timeouts", "worker",
    )

    def __init__(self, worker: _Worker, conn: Connection, template: tuple[bytes, bytes],
                 stop_at: float) -> None:
        self.worker = worker
        self.acc = worker.acc  # one accumulator for the worker's life (it clears itself per window)
        self.template = template
        self.request, self.rid = worker.stamp(template)
        self.stop_at = stop_at
        self.timeouts = worker.timeouts
        self.ended: asyncio.Future[tuple[Connection | None, str | None] | None] = worker.loop.create_future()
        self.on_done = self._on_done  # bound once, called once per request
        self.in_flight = True
        worker.in_flight += 1
        self.acc.started += 1
        self.start = conn.send(self.request, self.timeouts, self.on_done)

    def _on_done(self, conn: Connection) -> None:
        exchange = conn.outcome()
        if self.ended.done():  # cancelled: the task counts the request as cancelled
            return
        kind = exchange.kind
        if kind is not None and conn.silent_failure:
            self.ended.set_result(None)  # still in flight: the task retries it
            return
        acc = self.acc
        acc.record(exchange, self.start, self.rid)
        worker = self.worker
        if kind is None and exchange.keep_alive and not worker.stopping and _monotonic() < self.stop_at:
            acc.started += 1  # the next request takes this one's place in flight
            self.request, self.rid = worker.stamp(self.template)
            self.start = conn.send(self.request, self.timeouts, self.on_done)
        else:
            self.in_flight = False
            worker.in_flight -= 1
            self.ended.set_result((conn if exchange.keep_alive else None, kind))


def _connect_failure() -> Exchange:
    return Exchange(
        status=None, cls="transport", code=None, kind="connect", first_byte_at=None,
        first_token_at=None, done_at=None, ended_at=time.monotonic(), tokens=0,
        tokens_from_usage=False, gaps_us=[], first_kind=None, events=0, bytes_received=0,
        region=None, keep_alive=False,
    )


async def _sleep_until(instant: float) -> None:
    delay = instant - time.monotonic()
    if delay > 0:
        await asyncio.sleep(delay)
