"""A Toxiproxy API that accepts connections and never answers (the hang of Shopify/toxiproxy
issues 412 and 558): every call is bounded, a fault's revert gives up at its deadline listing
what may still be applied, and `chaos cleanup` says which component it could not reach."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest

from chaos.errors import ExitCode, FaultError, ToxiproxyError
from chaos.faults import Executor, FaultSession, Primitive, Targets, ToxiproxyClient
from tests.faults.envs import environment_yaml
from tests.robustness.commands import chaos, no_traceback


@pytest.fixture
def silent_api() -> Iterator[str]:
    """An HTTP URL whose server accepts every connection, reads, and never answers."""
    server = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            held.append(conn)

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.getsockname()[1]}"
    finally:
        stop.set()
        thread.join(timeout=5)
        for conn in held:
            conn.close()
        server.close()


def test_every_toxiproxy_call_is_bounded(silent_api: str) -> None:
    async def go() -> None:
        async with ToxiproxyClient(silent_api, timeout_s=0.3, retries=1) as client:
            await client.get_proxy("us-east-primary")

    began = time.monotonic()
    with pytest.raises(ToxiproxyError, match=r"get proxy on us-east-primary: ReadTimeout"):
        anyio.run(go)
    assert time.monotonic() - began < 3


def test_a_revert_against_a_silent_toxiproxy_gives_up_at_its_deadline(silent_api: str, tmp_path: Path) -> None:
    targets = Targets(toxiproxy_api=silent_api)
    session = FaultSession(None, targets=targets, run_dir=tmp_path / "run", run_id="silent",
                           revert_deadline_s=3.0, revert_timeout_s=2.0, revert_attempts=1,
                           executor=Executor(targets, verify_timeout_s=1.0))

    async def go() -> None:
        async with session:
            await session.apply_primitives("cut", [Primitive("toxiproxy.disable", "us-east-primary")])

    began = time.monotonic()
    with pytest.raises(FaultError, match="us-east-primary"):
        anyio.run(go)
    assert time.monotonic() - began < 60
    (still,) = session.still_applied()  # the silent server may have applied it: said so
    assert (still.fault_id, still.primitive, still.target) == ("cut", "toxiproxy.disable", "us-east-primary")
    assert still.verified is False  # never verified: it may or may not have taken effect
    assert "(apply never verified" in still.line()
    # Why the apply failed stays, beside why the revert did (the revert's no longer hides it).
    apply_error, _, revert_error = still.error.partition("; ")
    assert apply_error.startswith("fault update proxy on us-east-primary: ReadTimeout"), still.error
    assert "attempts over" in revert_error, still.error
    (record,) = session.records()
    assert record.error is not None
    assert record.error.startswith(apply_error), record.error
    assert "attempts over" in record.error
    (action,) = record.actions
    assert (action.applied_at, action.error) == (None, still.error)
    assert "1 of them never verified applied" in str(session.revert_error())


def test_cleanup_against_a_silent_toxiproxy_names_it_and_exits_4(silent_api: str, tmp_path: Path) -> None:
    env = tmp_path / "environment.yaml"
    env.write_text(environment_yaml(silent_api, tmp_path / "no-state.json"))
    began = time.monotonic()
    done = chaos("cleanup", "--env", str(env), timeout_s=120)
    no_traceback(done.stdout + done.stderr)
    assert done.returncode == ExitCode.INFRASTRUCTURE, done.stderr
    assert time.monotonic() - began < 60
    assert f"NOT reverted: toxiproxy: fault list proxies on {silent_api}: ReadTimeout" in done.stderr
    assert "cleanup incomplete:" in done.stderr
