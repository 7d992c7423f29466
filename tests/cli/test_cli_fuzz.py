"""Hypothesis over the CLI's options and inputs, in process: whatever the flags or the file,
no traceback, an exit code of its kind (2 usage/spec, 4 infrastructure, never 1), and a
refusal on one line; nothing is started (every `run` here has an unusable evidence dir)."""

from __future__ import annotations

import math
import os
import tempfile
from pathlib import Path

from click.testing import Result
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from chaos.cli import app

ROOT = Path(__file__).resolve().parents[2]
DRILL = str(ROOT / "experiments" / "smoke.yaml")
ENV = str(ROOT / "environments" / "local.yaml")
DRILL_BYTES = (ROOT / "experiments" / "smoke.yaml").read_bytes()
runner = CliRunner()

FUZZ = settings(max_examples=int(os.environ.get("CHAOS_FUZZ_EXAMPLES", "30")), deadline=None,
                suppress_health_check=[HealthCheck.too_slow])

numbers = st.one_of(
    st.floats().map(repr), st.floats(min_value=0.001, max_value=1000).map(repr),
    st.integers(-(10**30), 10**30).map(str),
    st.sampled_from(["inf", "-inf", "nan", "1e308", "1e-300", "0", "-0.0", "1e999", "0x10", "", "abc", "1_0"]),
)
tiers = st.one_of(st.sampled_from(["L", "G", "X", "g", "Z", "", "LL", "tier"]), st.text(max_size=8))


def no_traceback(result: Result) -> None:
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output
    assert result.exit_code != 1, result.output


def in_range(text: str, low: float, high: float) -> bool:
    try:
        value = float(text)
    except ValueError:
        return False
    return math.isfinite(value) and low <= value <= high


@FUZZ
@given(scale=numbers)
def test_plan_time_scale_is_used_or_refused_on_one_line(scale: str) -> None:
    result = runner.invoke(app, ["plan", DRILL, "--env", ENV, "--no-preflight", "--time-scale", scale])
    no_traceback(result)
    if in_range(scale, 0.001, 1000):
        assert result.exit_code == 0, result.output
    else:
        assert result.exit_code == 2
        if result.output.startswith("error:"):  # our check; typer's own parse error is its usage block
            assert len(result.output.splitlines()) == 1, result.output


@FUZZ
@given(time_scale=numbers, load_scale=numbers, tier=tiers, workers=st.integers(-5, 5000),
       lag=numbers, which=st.sets(st.sampled_from(["time", "load", "tier", "workers", "lag"])))
def test_run_flags_are_refused_before_anything_starts(
    time_scale: str, load_scale: str, tier: str, workers: int, lag: str, which: set[str]
) -> None:
    """Any mix of flags: exit 2 for a bad flag, else exit 4 for the evidence dir (a file)."""
    flags = {"time": ["--time-scale", time_scale], "load": ["--load-scale", load_scale], "tier": ["--tier", tier],
             "workers": ["--workers", str(workers)], "lag": ["--max-driver-lag-ms", lag]}
    with tempfile.NamedTemporaryFile() as not_a_dir:
        args = ["run", DRILL, "--env", ENV, "--evidence-dir", not_a_dir.name, "--no-live"]
        for name in sorted(which):
            args += flags[name]
        result = runner.invoke(app, args)
    no_traceback(result)
    assert result.exit_code in (2, 4), result.output
    if result.output.startswith("error:"):
        assert len(result.output.splitlines()) == 1, result.output


@FUZZ
@given(tier=tiers, out_is_file=st.booleans())
def test_report_flags_are_refused_on_one_line(tier: str, out_is_file: bool) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out"
        if out_is_file:
            out.write_text("x")
        result = runner.invoke(app, ["report", tmp, "--tier", tier, "--out", str(out)])
    no_traceback(result)
    assert result.exit_code == 2
    assert len(result.output.splitlines()) == 1, result.output


@FUZZ
@given(data=st.binary(max_size=400), at=st.integers(0, len(DRILL_BYTES)), with_env=st.booleans())
def test_validate_any_bytes_gives_ok_or_located_lines(data: bytes, at: int, with_env: bool) -> None:
    """Bytes spliced into a drill: `ok`, or one line per issue, each naming the file."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "drill.yaml"
        path.write_bytes(DRILL_BYTES[:at] + data + DRILL_BYTES[at:])
        result = runner.invoke(app, ["validate", str(path), *(["--env", ENV] if with_env else [])])
    no_traceback(result)
    assert result.exit_code in (0, 2)
    for line in result.output.splitlines():
        assert line.startswith((f"ok {path}: ", f"{path}:")), line
        assert line.isprintable(), repr(line)
