"""The shared fixtures start the real servers."""

from __future__ import annotations

import socket

import httpx

from tests.servers import RedisServer, ToxiproxyServer


def test_redis_server_answers_ping(redis_server: RedisServer) -> None:
    with socket.create_connection((redis_server.host, redis_server.port), timeout=2) as s:
        s.sendall(b"PING\r\n")
        assert s.recv(16) == b"+PONG\r\n"


def test_toxiproxy_server_reports_its_version(toxiproxy: ToxiproxyServer) -> None:
    response = httpx.get(f"{toxiproxy.api_url}/version", timeout=2)
    assert response.status_code == 200
    assert httpx.get(f"{toxiproxy.api_url}/proxies", timeout=2).json() == {}
