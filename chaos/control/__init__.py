"""Game-day controls: the environment lock, abort requests, kill switches and hold points
(docs/gameday.md)."""

from chaos.control.lock import EnvironmentLock, EnvironmentLocked, Holder, acquire_lock, read_holder
from chaos.control.requests import (
    control_dir,
    read_hold,
    request_abort,
    request_resume,
)
from chaos.control.switch import KillSwitchSet, check_kill_switch, kill_switch_reason
from chaos.control.watch import ControlWatch

__all__ = [
    "ControlWatch",
    "EnvironmentLock",
    "EnvironmentLocked",
    "Holder",
    "KillSwitchSet",
    "acquire_lock",
    "check_kill_switch",
    "control_dir",
    "kill_switch_reason",
    "read_hold",
    "read_holder",
    "request_abort",
    "request_resume",
]
