"""Evidence bundles for the robustness tests: a killed run's (JSON lines only) and a sealed one,
from a synthetic recording with the evaluation settings of a real drill and environment."""

from __future__ import annotations

from pathlib import Path

from chaos.report.bundle import BundleWriter
from chaos.run.options import RunOptions
from chaos.run.orchestrator import drill_inputs
from chaos.run.plan import evaluation_config
from chaos.run.rejudge import rejudge_bundle
from chaos.spec import load_drill, load_environment
from tests.report.synthetic import T0, recording

REPO = Path(__file__).resolve().parents[2]
DRILL = REPO / "experiments" / "provider-outage.yaml"
ENVIRONMENT = REPO / "environments" / "local.yaml"


def killed_bundle(parent: Path) -> Path:
    """The bundle a run SIGKILLed after 30 s leaves: run.json `running` and its JSON lines."""
    drill, env = load_drill(DRILL), load_environment(ENVIRONMENT)
    evaluation = evaluation_config(drill, env, tier=None, time_scale=1.0)
    rec = recording(complete=False)
    writer = BundleWriter.create(parent, drill.name, T0, run_meta={
        "run_id": rec.run_id, "drill": drill.name, "started_at": T0, "time_scale": 1.0,
        "load_scale": 1.0, "sample_interval_s": 1.0})
    writer.write_inputs(drill_inputs(drill, env, RunOptions(), evaluation))
    writer.write_phases(rec.phases)
    for w in rec.windows:
        writer.append_window(w)
    for s in rec.samples:
        writer.append_sample(s)
    for p in rec.probes:
        writer.append_probe(p)
    for f in rec.faults:
        writer.append_fault(f)
    writer.close()
    return writer.path


def sealed_bundle(parent: Path) -> Path:
    """A killed run's bundle sealed by `chaos report` (evidence.json, manifest, junit.xml)."""
    path = killed_bundle(parent)
    rejudge_bundle(path)
    return path


def tmp_files(root: Path) -> list[Path]:
    """Every `.tmp` file under `root` (a failed write must leave none)."""
    return sorted(p for p in root.rglob("*.tmp"))
