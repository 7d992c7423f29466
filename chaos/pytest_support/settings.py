"""The plugin's settings, read once from the pytest command line and ini file."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from chaos.errors import ChaosError, ExitCode

SETTINGS_KEY = pytest.StashKey["ChaosSettings"]()


class ChaosUsageError(ChaosError):
    """The plugin was asked to run a drill without what it needs (an environment)."""

    exit_code = ExitCode.USAGE


@dataclass(frozen=True, slots=True)
class ChaosSettings:
    """What `--chaos-*` options (or the `chaos_*` ini settings) asked for."""

    env_path: Path | None
    drill_patterns: tuple[str, ...]  # ini `chaos_drills`: globs of drill files (opt-in)
    time_scale: float
    load_scale: float
    evidence_dir: Path
    allow_inconclusive: bool
    allow_production: bool
    max_driver_lag_ms: float | None
    workers: int | None

    @property
    def enabled(self) -> bool:
        """Opt-in: only with --chaos-env (or ini chaos_env) or a `chaos_drills` ini setting."""
        return self.env_path is not None or bool(self.drill_patterns)

    def require_env(self) -> Path:
        if self.env_path is None:
            raise ChaosUsageError(
                "a drill needs an environment: pass --chaos-env FILE (or set chaos_env in the ini file)"
            )
        return self.env_path

    @classmethod
    def from_config(cls, config: pytest.Config) -> ChaosSettings:
        base = Path(config.invocation_params.dir)
        env = config.getoption("chaos_env") or config.getini("chaos_env") or None
        patterns = tuple(str(p) for p in config.getini("chaos_drills"))
        lag = config.getoption("chaos_max_driver_lag_ms")
        workers = config.getoption("chaos_workers")
        return cls(
            env_path=(base / str(env)) if env else None,
            drill_patterns=patterns,
            time_scale=float(config.getoption("chaos_time_scale")),
            load_scale=float(config.getoption("chaos_load_scale")),
            evidence_dir=base / str(config.getoption("chaos_evidence_dir")),
            allow_inconclusive=bool(config.getoption("chaos_allow_inconclusive")),
            allow_production=bool(config.getoption("chaos_allow_production")),
            max_driver_lag_ms=float(lag) if lag is not None else None,
            workers=int(workers) if workers is not None else None,
        )
