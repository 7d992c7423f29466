"""The fault proxy: a reverse proxy between a gateway and one LLM provider that answers 429 /
5xx with Retry-After or breaks streams mid-answer (in-band error, truncation, stall) for a
share of requests, switched on and off through `/__chaos/fault` like the testbed provider's
fault switch. See docs/faultproxy.md."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from chaos.faultproxy.switch import (
    STREAM_KINDS,
    FaultSwitch,
    HttpFault,
    StreamFault,
    SwitchStatistics,
    parse_fault,
)

if TYPE_CHECKING:
    from chaos.faultproxy.app import FAULT_PATH, FaultProxyApp, ProxyConfig, ProxyStatistics
    from chaos.faultproxy.server import RunningProxy, running_proxy, serve
    from chaos.faultproxy.wire import PROTOCOLS, ProxyProtocol, Wire

# The proxy itself (uvicorn, the protocol profiles) loads on first use: the drill's fault
# scenarios need only the switch's JSON.
_LAZY = {"FAULT_PATH": "app", "FaultProxyApp": "app", "ProxyConfig": "app",
         "ProxyStatistics": "app", "RunningProxy": "server", "running_proxy": "server",
         "serve": "server", "PROTOCOLS": "wire", "ProxyProtocol": "wire", "Wire": "wire"}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"chaos.faultproxy.{module}"), name)


__all__ = [
    "FAULT_PATH",
    "PROTOCOLS",
    "STREAM_KINDS",
    "FaultProxyApp",
    "FaultSwitch",
    "HttpFault",
    "ProxyConfig",
    "ProxyProtocol",
    "ProxyStatistics",
    "RunningProxy",
    "StreamFault",
    "SwitchStatistics",
    "Wire",
    "parse_fault",
    "running_proxy",
    "serve",
]
