"""Fault injection that always reverts: Toxiproxy, Docker and process runtimes, HTTP actions,
the three drill scenarios, the write-ahead journal, the session and the watchdog."""

from __future__ import annotations

from chaos.faults.docker_runtime import DockerRuntime, compose_ref
from chaos.faults.executor import Executor
from chaos.faults.http_action import HttpRequest, send_http
from chaos.faults.journal import JOURNAL_NAME, Journal, OpenEntry, open_entries, read_journal
from chaos.faults.primitives import Primitive, Targets
from chaos.faults.process_runtime import ProcessRuntime
from chaos.faults.replay import cleanup_environment, replay_journal
from chaos.faults.revert import revert_primitive
from chaos.faults.scenarios import describe_fault, resolve_fault, targets_for
from chaos.faults.session import FaultSession, FaultSessionStatistics
from chaos.faults.toxics import (
    TOXIC_PREFIX,
    Bandwidth,
    Latency,
    LimitData,
    ResetPeer,
    Slicer,
    SlowClose,
    Timeout,
    Toxic,
    ToxicSpec,
)
from chaos.faults.toxiproxy import Proxy, ProxyConfig, ToxiproxyClient
from chaos.faults.watchdog import Watchdog, start_watchdog

__all__ = [
    "JOURNAL_NAME",
    "TOXIC_PREFIX",
    "Bandwidth",
    "DockerRuntime",
    "Executor",
    "FaultSession",
    "FaultSessionStatistics",
    "HttpRequest",
    "Journal",
    "Latency",
    "LimitData",
    "OpenEntry",
    "Primitive",
    "ProcessRuntime",
    "Proxy",
    "ProxyConfig",
    "ResetPeer",
    "Slicer",
    "SlowClose",
    "Targets",
    "Timeout",
    "Toxic",
    "ToxicSpec",
    "ToxiproxyClient",
    "Watchdog",
    "cleanup_environment",
    "compose_ref",
    "describe_fault",
    "open_entries",
    "read_journal",
    "replay_journal",
    "resolve_fault",
    "revert_primitive",
    "send_http",
    "start_watchdog",
    "targets_for",
]
