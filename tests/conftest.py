"""Shared session-scoped fixtures: real redis-server, real toxiproxy-server, Docker engine."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.servers import RedisServer, ToxiproxyServer, start_redis, start_toxiproxy
from tests.terminate import pytest_configure  # noqa: F401  # SIGTERM tears fixtures down


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """A real redis-server on a free loopback port for the whole session."""
    server = start_redis()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def toxiproxy_server() -> Iterator[ToxiproxyServer]:
    """A real toxiproxy-server on a free loopback port for the whole session."""
    server = start_toxiproxy()
    yield server
    server.stop()


@pytest.fixture
def toxiproxy(toxiproxy_server: ToxiproxyServer) -> Iterator[ToxiproxyServer]:
    """The session's Toxiproxy, emptied of proxies before and after the test."""
    toxiproxy_server.reset()
    yield toxiproxy_server
    toxiproxy_server.reset()


@pytest.fixture(scope="session")
def docker_client() -> Iterator[object]:
    """A client of the real Docker engine.

    Fails when the engine does not answer. The one exception (DESIGN 9, issue 2): when
    `.ci/run` found that no engine can run on this machine it exports
    CHAOS_DOCKER_UNAVAILABLE with the engine's error, and Docker tests skip with it.
    """
    reason = os.environ.get("CHAOS_DOCKER_UNAVAILABLE")
    if reason:
        pytest.skip(f"DOCKER ENGINE UNAVAILABLE: {reason}")
    import docker

    try:
        client = docker.from_env(timeout=30)
        client.ping()
    except Exception as exc:  # any engine error is a failure with its message
        pytest.fail(
            f"Docker engine not reachable ({exc}); run `bash scripts/setup.sh`", pytrace=False
        )
    yield client
    client.close()


@pytest.fixture(scope="session", autouse=True)
def control_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    """Environment locks and abort/resume requests of this session's drills in a directory of
    its own: another checkout's test run on this host (same environment names) is not a
    competing drill, and nothing lands in ~/.chaos."""
    from chaos.control.requests import CONTROL_DIR_ENV

    path = tmp_path_factory.mktemp("control")
    before = os.environ.get(CONTROL_DIR_ENV)
    os.environ[CONTROL_DIR_ENV] = str(path)  # child processes (chaos CLI) inherit it
    yield path
    if before is None:
        os.environ.pop(CONTROL_DIR_ENV, None)
    else:
        os.environ[CONTROL_DIR_ENV] = before
