"""Pure parts of the testbed: circuit breaker, provider slots, config loading, token parsing."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest

from chaos import errors
from chaos.errors import SpecError
from chaos.testbed import default_config, load_config
from chaos.testbed.circuit import CircuitBreaker, CircuitState
from chaos.testbed.gateway import subject_of
from chaos.testbed.launcher import check_ports
from chaos.testbed.slots import ProviderSlots, QueueTimeout
from tests.testbed_fixture import free_port_config


class FakeClock:
    def __init__(self) -> None:
        self.now_s = 100.0

    def __call__(self) -> float:
        return self.now_s


def test_circuit_opens_after_threshold_half_opens_after_duration_and_closes_on_probes() -> None:
    clock = FakeClock()
    b = CircuitBreaker("primary", failure_threshold=3, open_duration_s=10, half_open_probes=2,
                       clock=clock)
    for _ in range(2):
        assert b.allow()
        b.record_failure()
    assert b.state is CircuitState.CLOSED
    b.record_failure()
    assert b.state is CircuitState.OPEN
    assert not b.allow()
    clock.now_s += 10
    assert b.state is CircuitState.HALF_OPEN
    assert b.allow()
    assert b.allow()
    assert not b.allow(), "only half_open_probes trial calls at once"
    b.record_success()
    assert b.state is CircuitState.HALF_OPEN
    b.record_success()
    assert b.state is CircuitState.CLOSED
    assert b.statistics().transitions == {"closed->open": 1, "open->half_open": 1,
                                          "half_open->closed": 1}


def test_circuit_failure_in_half_open_reopens_and_success_resets_count() -> None:
    clock = FakeClock()
    b = CircuitBreaker("p", failure_threshold=2, open_duration_s=1, half_open_probes=1, clock=clock)
    b.record_failure()
    b.record_success()
    b.record_failure()
    assert b.state is CircuitState.CLOSED, "success resets the consecutive count"
    b.record_failure()
    clock.now_s += 1
    assert b.allow()
    b.record_failure()
    assert b.state is CircuitState.OPEN
    assert CircuitState.HALF_OPEN.metric_value == 0.5


def test_slots_queue_in_fifo_order_measure_age_and_time_out() -> None:
    clock = FakeClock()

    async def main() -> None:
        slots = ProviderSlots(1, clock=clock)
        await slots.acquire(1.0)
        order: list[int] = []

        async def waiter(i: int) -> None:
            await slots.acquire(5.0)
            order.append(i)
            slots.release()

        async with anyio.create_task_group() as tg:
            tg.start_soon(waiter, 1)
            await anyio.wait_all_tasks_blocked()
            tg.start_soon(waiter, 2)
            await anyio.wait_all_tasks_blocked()
            clock.now_s += 2.5
            st = slots.statistics()
            assert (st.in_use, st.queue_depth, st.oldest_age_s) == (1, 2, 2.5)
            slots.release()
        assert order == [1, 2]
        assert slots.statistics().in_use == 0
        await slots.acquire(1.0)
        with pytest.raises(QueueTimeout):
            await slots.acquire(0.05)
        assert slots.statistics().queue_depth == 0

    anyio.run(main)


@pytest.mark.parametrize(("header", "subject"), [
    ("Bearer tb-alice", "alice"), ("Bearer tb-A.b_c-9", "A.b_c-9"), ("Bearer tb-", None),
    ("Bearer tb-" + "x" * 65, None), ("bearer tb-alice", None), ("Bearer xx-alice", None),
    (None, None), ("Bearer tb-al ice", None),
])
def test_token_scheme(header: str | None, subject: str | None) -> None:
    assert subject_of(header) == subject


def test_defaults_match_the_documented_ports() -> None:
    cfg = default_config()
    assert cfg.ports.router == 18080
    assert cfg.ports.gateways == {"us-east": 18081, "us-west": 18082}
    assert cfg.ports.providers == {"primary": 18091, "fallback": 18092}
    assert (cfg.ports.redis, cfg.ports.toxiproxy) == (16379, 18474)
    assert cfg.gateway.log_message_text is False


def test_config_file_overrides_defaults(tmp_path: Path) -> None:
    path = tmp_path / "tb.yaml"
    path.write_text("ports:\n  router: 28080\ngateway:\n  rate_limit_requests: 0\n")
    cfg = load_config(path)
    assert cfg.ports.router == 28080
    assert cfg.ports.redis == 16379
    assert cfg.gateway.rate_limit_requests == 0


def test_bad_config_names_file_line_and_field(tmp_path: Path) -> None:
    path = tmp_path / "tb.yaml"
    path.write_text("ports:\n  router: 18080\nrouter:\n  failback: sometimes\n")
    with pytest.raises(SpecError) as err:
        load_config(path)
    assert str(err.value).startswith(f"{path}:4:13: router.failback:")
    assert "\n" not in str(err.value)
    path.write_text("gateway:\n  no_such_key: 1\n")
    with pytest.raises(SpecError, match=r":2:3: gateway.no_such_key: unknown key"):
        load_config(path)


def test_busy_port_is_a_one_line_testbed_error() -> None:
    import socket

    cfg = free_port_config()
    with socket.socket() as s:
        s.bind(("127.0.0.1", cfg.ports.router))
        s.listen()
        with pytest.raises(errors.TestbedError) as err:
            check_ports(cfg)
    assert str(err.value) == f"port {cfg.ports.router} (router) is already in use on 127.0.0.1"
