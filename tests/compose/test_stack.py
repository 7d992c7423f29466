"""The testbed's compose stack from offline images: healthy, streaming, Redis loss, clean down."""

from __future__ import annotations

import json

import httpx
import pytest

from chaos.testbed.config import PROXY_NAMES
from chaos.testbed.docker_stack import (
    PROJECT_LABEL,
    SERVICES,
    ComposeStack,
    docker_down,
    docker_status,
    docker_up,
    leftovers,
)
from tests.compose.conftest import new_stack
from tests.servers import wait_for

pytestmark = [pytest.mark.docker, pytest.mark.slow]


def chat(stack: ComposeStack, subject: str = "alice") -> httpx.Response:
    """One chat request through the router, read to its end."""
    with httpx.Client(timeout=15) as client:
        return client.post(f"http://127.0.0.1:{stack.host_port('router')}/api/chat",
                           headers={"authorization": f"Bearer tb-{subject}"},
                           json={"message": "hello"})


def test_every_service_is_running_and_healthy(compose_stack: ComposeStack) -> None:
    status = docker_status(compose_stack)
    assert [s.service for s in status.services] == list(SERVICES)
    assert status.healthy, status


def test_published_ports_are_on_loopback_only(compose_stack: ComposeStack,
                                              docker_client: object) -> None:
    containers = docker_client.containers.list(  # type: ignore[attr-defined]
        filters={"label": f"{PROJECT_LABEL}={compose_stack.project}"})
    bindings = [b for c in containers for bs in c.attrs["NetworkSettings"]["Ports"].values()
                if bs for b in bs]
    assert len(bindings) == len(SERVICES)
    assert {b["HostIp"] for b in bindings} == {"127.0.0.1"}


def test_toxiproxy_holds_every_testbed_proxy(compose_stack: ComposeStack) -> None:
    api = f"http://127.0.0.1:{compose_stack.host_port('toxiproxy')}"
    proxies = httpx.get(f"{api}/proxies", timeout=5).json()
    assert set(proxies) == set(PROXY_NAMES)
    assert all(p["enabled"] and not p["toxics"] for p in proxies.values())


def test_chat_streams_through_router_gateway_and_provider(compose_stack: ComposeStack) -> None:
    response = chat(compose_stack)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/event-stream")
    assert response.headers["x-served-by-region"] == "us-east"
    assert response.headers["x-provider-route"] == "primary"
    tokens = [json.loads(line[5:])["token"] for line in response.text.splitlines()
              if line.startswith("data:") and "token" in line]
    assert len(tokens) >= 5


def test_redis_kill_gives_503_redis_unavailable_until_started(
        compose_stack: ComposeStack, docker_client: object) -> None:
    redis = docker_client.containers.get(  # type: ignore[attr-defined]
        docker_status(compose_stack).service("redis").container)
    redis.kill()
    try:
        def refused() -> bool:
            r = chat(compose_stack)
            return r.status_code == 503 and r.json()["error"] == "redis_unavailable"
        wait_for(refused, 20, "503 redis_unavailable after the Redis container was killed")
    finally:
        redis.start()
    wait_for(lambda: chat(compose_stack).status_code == 200, 30,
             "chat served again after the Redis container was started")
    wait_for(lambda: docker_status(compose_stack).healthy, 60, "every service healthy again")


def test_up_then_down_leaves_no_container_network_or_volume(offline_images: None) -> None:
    stack = new_stack()
    try:
        status = docker_up(stack, build=False)
        assert status.healthy
        assert leftovers(stack.project)
    finally:
        docker_down(stack)
    assert leftovers(stack.project) == []
    assert all(s.state == "missing" for s in docker_status(stack).services)
