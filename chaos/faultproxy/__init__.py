"""The fault proxy: a reverse proxy between a gateway and one LLM provider that answers 429 /
5xx with Retry-After or breaks streams mid-answer (in-band error, truncation, stall) for a
share of requests, switched on and off through `/__chaos/fault` like the testbed provider's
fault switch. See docs/faultproxy.md."""

from chaos.faultproxy.app import FAULT_PATH, FaultProxyApp, ProxyConfig, ProxyStatistics
from chaos.faultproxy.server import RunningProxy, running_proxy, serve
from chaos.faultproxy.switch import (
    STREAM_KINDS,
    FaultSwitch,
    HttpFault,
    StreamFault,
    SwitchStatistics,
    parse_fault,
)
from chaos.faultproxy.wire import PROTOCOLS, ProxyProtocol, Wire

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
