"""The pure parts of the backends, without a cluster: clock offsets (NTP-style), which nodes
can take a worker, how many workers, windows shifted onto coordinator time, the
environment's `load` section, and the one-line refusal when Ray is not installed."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from chaos.load import LoadConfig
from chaos.load.backends import BackendChoice, Placement, backend_choice
from chaos.load.backends.clock import (
    ClockSample,
    ClockTrack,
    best_sample,
    clock_sample,
    offset_problem,
)
from chaos.load.backends.ray_backend import RayChannel, eligible_nodes, node_name, worker_count
from chaos.load.controller import split_shares
from chaos.recording import LoadWindow
from chaos.spec.environment import LoadBackend

REPO = Path(__file__).resolve().parents[3]


def test_a_clock_sample_assumes_the_worker_read_its_clock_mid_round_trip() -> None:
    s = clock_sample(sent=100.0, worker_time=100.75, received=100.5)
    assert s == ClockSample(at=100.25, offset_s=0.5, rtt_s=0.5)


def test_the_best_sample_is_the_one_with_the_shortest_round_trip() -> None:
    samples = [ClockSample(1.0, 0.3, 0.2), ClockSample(2.0, 0.01, 0.002), ClockSample(3.0, -0.2, 0.1)]
    assert best_sample(samples).offset_s == 0.01


@pytest.mark.parametrize(("offset_s", "rtt_s", "problem"), [
    (0.0, 0.001, None),
    (0.999, 0.001, None),
    (-0.999, 0.001, None),
    (1.2, 0.001, "+1.200 s off"),
    (-3.0, 0.001, "-3.000 s off"),
    (0.0, 2.5, "cannot be compared"),
])
def test_an_offset_above_the_window_width_is_a_preflight_problem(
    offset_s: float, rtt_s: float, problem: str | None,
) -> None:
    found = offset_problem("w0", ClockSample(0.0, offset_s, rtt_s))
    if problem is None:
        assert found is None
    else:
        assert found is not None
        assert problem in found


def test_the_clock_track_keeps_the_start_and_the_best_sample_of_each_interval() -> None:
    track = ClockTrack(ClockSample(0.0, 0.010, 0.001), every_s=30.0)
    track.add(ClockSample(10.0, 0.020, 0.005))
    track.add(ClockSample(20.0, 0.015, 0.001))  # the best of this interval
    track.add(ClockSample(31.0, 0.030, 0.009))  # closes the interval
    assert [s[1] for s in track.samples()] == [0.010, 0.015]
    assert track.max_drift_s == pytest.approx(0.005)


def node(node_id: str, alive: bool = True, **resources: float) -> dict[str, Any]:
    return {"NodeID": node_id, "Alive": alive, "Resources": {"CPU": 1.0, **resources},
            "NodeManagerAddress": "10.0.0.1", "Labels": {}}


def test_only_alive_nodes_with_the_workers_resources_and_labels_are_eligible() -> None:
    nodes = [node("a" * 16, load=2.0), node("b" * 16, load=0.5), node("c" * 16, alive=False, load=1.0),
             {**node("d" * 16, load=1.0), "Labels": {"pool": "load"}}]
    choice = BackendChoice(kind="ray", resources={"load": 1.0})
    assert [n["NodeID"][0] for n in eligible_nodes(nodes, choice)] == ["a", "d"]
    labelled = BackendChoice(kind="ray", resources={"load": 1.0}, labels={"pool": "load"})
    assert [n["NodeID"][0] for n in eligible_nodes(nodes, labelled)] == ["d"]


@pytest.mark.parametrize(("workers", "per_node", "expected"), [(None, None, 3), (5, None, 5), (None, 2, 8)])
def test_worker_count_is_workers_else_per_node_times_nodes_else_the_drills(
    workers: int | None, per_node: int | None, expected: int,
) -> None:
    choice = BackendChoice(kind="ray", workers=workers, workers_per_node=per_node)
    assert worker_count(choice, eligible=4, default=3) == expected


def test_a_node_is_named_by_its_id_and_custom_resources() -> None:
    n = node("0123456789abcdef", node_a=1.0, memory=1e9, **{"node:10.0.0.1": 1.0})
    assert node_name(n) == "01234567 [node_a]"


def test_windows_from_a_skewed_worker_land_on_the_coordinators_edges() -> None:
    config = LoadConfig(url="http://127.0.0.1:9/x", streams=2, hold_s=5.0, window_cuts_s=(2.5,))
    share = split_shares(config, start_wall=1000.0, heartbeat_timeout_s=5.0, workers=1)[0]
    channel = RayChannel(ray=sys, actor=None, share=share, placement=Placement("n", "a"),
                         clock=ClockSample(999.0, 0.25, 0.001))
    # The worker started at 1000.25 on its own clock; its window 2 is [2.0, 2.5) after that.
    window = LoadWindow(
        run_id="run", worker_id="w0", incarnation=0, seq=2, start=1002.25, end=1002.75, started=1,
        counts={"2xx": 1}, error_codes={}, transport={}, regions={}, first_token_hist="",
        completion_hist="", failed=(("r1", "5xx", None, 1002.3, 1002.6),),
    )
    kind, shifted = channel._to_coordinator(("window", window))
    assert kind == "window"
    assert (shifted.start, shifted.end) == (1002.0, 1002.5)
    assert shifted.failed[0][3:] == pytest.approx((1002.05, 1002.35))


def test_the_environments_load_section_maps_to_the_backend_choice() -> None:
    spec = LoadBackend.model_validate({"backend": "ray", "address": "ray://head:10001",
                                       "workers_per_node": 2, "resources": {"load": 1},
                                       "labels": {"pool": "load"}, "strategy": "STRICT_SPREAD"})
    assert backend_choice(spec) == BackendChoice(
        kind="ray", address="ray://head:10001", workers_per_node=2, resources={"load": 1.0},
        labels={"pool": "load"}, strategy="STRICT_SPREAD")
    assert backend_choice(LoadBackend()).kind == "local"


@pytest.mark.parametrize(("section", "message"), [
    ({"backend": "local", "address": "auto"}, "'address' applies to backend ray only"),
    ({"backend": "ray", "workers": 2, "workers_per_node": 1}, "not both"),
])
def test_load_section_mistakes_are_refused(section: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        LoadBackend.model_validate(section)


def test_backend_ray_without_ray_installed_is_a_one_line_error_naming_the_install(tmp_path: Path) -> None:
    """`chaos validate` in a Python where `import ray` fails (sys.modules['ray'] = None)."""
    env = REPO / "environments" / "local.yaml"
    text = env.read_text("utf-8") + "load:\n  backend: ray\n"
    path = tmp_path / "env.yaml"
    path.write_text(text, "utf-8")
    script = textwrap.dedent("""
        import sys
        sys.modules["ray"] = None  # as if the extra were not installed
        from chaos.cli import main
        sys.argv = ["chaos", "validate", sys.argv[1]]
        main()
    """)
    done = subprocess.run([sys.executable, "-c", script, str(path)], capture_output=True,
                          text=True, timeout=60, cwd=REPO)
    assert done.returncode == 2, done.stdout + done.stderr
    lines = [line for line in (done.stdout + done.stderr).splitlines() if "ray" in line]
    assert len(lines) == 1, done.stdout + done.stderr
    assert "pip install 'chaos-drills[ray]'" in lines[0]
    assert "env.yaml" in lines[0]
