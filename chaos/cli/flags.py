"""Checks of command-line values typer cannot express (finite ranges, tiers, writable
directories); each failure is one line and the exit code of its kind, before anything starts."""

from __future__ import annotations

import math
import tempfile
from pathlib import Path

from chaos.errors import ChaosError, ExitCode

SCALE_RANGE = (0.001, 1000.0)  # --time-scale and --load-scale
DRIVER_LAG_RANGE_MS = (0.1, 60_000.0)  # --max-driver-lag-ms


class FlagError(ChaosError):
    """A command-line value is out of range or unusable; the message names the flag."""

    def __init__(self, message: str, exit_code: ExitCode = ExitCode.USAGE) -> None:
        self.exit_code = exit_code
        super().__init__(message)


def _shown(value: object) -> str:
    """A flag's value as a message shows it: one line; numbers and names clipped, paths whole."""
    from chaos.spec.text import clip, printable

    text = printable(str(value))
    return text if isinstance(value, Path) else clip(text, 60)


def check_range(flag: str, value: float, low: float, high: float) -> float:
    """`value` if it is finite and within [low, high]; FlagError (exit 2) otherwise."""
    if not (math.isfinite(value) and low <= value <= high):
        raise FlagError(f"{flag} must be a number from {low:g} to {high:g}, not {_shown(value)}")
    return value


def check_scale(flag: str, value: float) -> float:
    return check_range(flag, value, *SCALE_RANGE)


def check_tier(value: str | None) -> str | None:
    """The tier in upper case (`g` -> `G`), or FlagError naming the catalog's tiers."""
    if value is None:
        return None
    from chaos.slo.catalog import TIERS

    tier = value.strip().upper()
    if tier not in TIERS:
        raise FlagError(f"--tier must be one of {', '.join(TIERS)}, not {_shown(value)!r}")
    return tier


def check_workers(value: int | None) -> int | None:
    from chaos.spec.units import MAX_WORKERS

    if value is not None and not 1 <= value <= MAX_WORKERS:
        raise FlagError(f"--workers must be from 1 to {MAX_WORKERS}, not {_shown(value)}")
    return value


def check_writable_dir(flag: str, path: Path, *, exit_code: ExitCode) -> Path:
    """Create `path` if needed and prove it takes a file; FlagError with `exit_code` if it is
    a file, read-only, or cannot be created."""
    if path.exists() and not path.is_dir():
        raise FlagError(f"{flag} {_shown(path)} is not a directory (a file is in the way)", exit_code)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise FlagError(f"{flag} {_shown(path)} cannot be created: {_reason(exc)}", exit_code) from None
    try:
        # Root ignores permission bits, so only a real write tells a read-only directory.
        with tempfile.NamedTemporaryFile(dir=path, prefix=".chaos-write-check-"):
            pass
    except OSError as exc:
        raise FlagError(f"{flag} {_shown(path)} is not writable: {_reason(exc)}", exit_code) from None
    return path


def _reason(exc: OSError) -> str:
    return exc.strerror or type(exc).__name__
