"""A real OpenAI/Anthropic streaming target, and a fault proxy in front of it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from chaos.faultproxy import ProxyConfig, RunningProxy, running_proxy
from tests.protocol_target import ProtocolTarget
from tests.servers import free_port


@pytest.fixture
def target() -> Iterator[ProtocolTarget]:
    with ProtocolTarget(first_token_delay_s=0.01, token_interval_s=0.005) as t:
        yield t


@pytest.fixture(params=["openai", "anthropic"])
def protocol(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def proxy(target: ProtocolTarget, protocol: str) -> Iterator[RunningProxy]:
    config = ProxyConfig(upstream=target.url, listen_port=free_port(), protocol=protocol,  # type: ignore[arg-type]
                         name="primary", seed=42, stall_bound_s=30.0)
    with running_proxy(config) as p:
        yield p
