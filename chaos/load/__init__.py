"""The load driver: worker processes driving concurrent streaming chat requests, measured
to the contract of DESIGN section 4 and honest about their own saturation."""

from chaos.load.config import LOOPBACK_HOSTS, PROFILES, LoadConfig, LoadModel
from chaos.load.controller import LoadController
from chaos.load.statistics import DriverStatistics, LoadSummary
from chaos.load.worker import StopSignal, WorkerShare, run

__all__ = [
    "LOOPBACK_HOSTS",
    "PROFILES",
    "DriverStatistics",
    "LoadConfig",
    "LoadController",
    "LoadModel",
    "LoadSummary",
    "StopSignal",
    "WorkerShare",
    "run",
]
