"""The embedded reference testbed: provider simulators, regional gateways, a global router, and
the launcher that runs them as local processes wired through real Toxiproxy and Redis."""

from __future__ import annotations

from chaos.testbed.config import TestbedConfig, default_config, load_config
from chaos.testbed.launcher import ComponentStatus, start_testbed, stop_testbed, testbed_status
from chaos.testbed.state import (
    ComponentState,
    TestbedState,
    component_alive,
    default_state_path,
    load_state,
    restart_component,
    save_state,
)

__all__ = [
    "ComponentState",
    "ComponentStatus",
    "TestbedConfig",
    "TestbedState",
    "component_alive",
    "default_config",
    "default_state_path",
    "load_config",
    "load_state",
    "restart_component",
    "save_state",
    "start_testbed",
    "stop_testbed",
    "testbed_status",
]
