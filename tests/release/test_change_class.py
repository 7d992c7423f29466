"""Upgrade classes at the command line: C is refused before any traffic, bad classes are usage errors."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from chaos.cli import app

REPO = Path(__file__).resolve().parents[2]


def test_class_c_is_refused_with_the_reason(tmp_path: Path) -> None:
    out = CliRunner().invoke(app, ["release", "--env", str(REPO / "environments" / "local.yaml"),
                                   "--change-class", "C", "--evidence-dir", str(tmp_path / "runs")])
    assert out.exit_code == 2, out.output
    assert "forbidden in Phase 16" in out.output
    assert not (tmp_path / "runs").exists()  # nothing ran, nothing to evidence


def test_unknown_class_is_a_usage_error(tmp_path: Path) -> None:
    out = CliRunner().invoke(app, ["release", "--env", str(REPO / "environments" / "local.yaml"),
                                   "--change-class", "D", "--evidence-dir", str(tmp_path)])
    assert out.exit_code == 2


def test_unreachable_target_is_an_infrastructure_error(tmp_path: Path) -> None:
    """Nothing listens at the base URL: exit 4, no verdict."""
    from tests.servers import free_port

    env = (REPO / "environments" / "local.yaml").read_text().replace(
        "http://127.0.0.1:18080", f"http://127.0.0.1:{free_port()}")
    path = tmp_path / "env.yaml"
    path.write_text(env)
    out = CliRunner().invoke(app, ["release", "--env", str(path), "--evidence-dir", str(tmp_path / "r")])
    assert out.exit_code == 4, out.output
    assert "refuses connections" in out.output
