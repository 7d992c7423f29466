"""The curated public surface: every exported name exists and is the real object."""

from __future__ import annotations

import subprocess
import sys

import pytest

import chaos


def test_every_exported_name_resolves() -> None:
    for name in chaos.__all__:
        assert getattr(chaos, name) is not None, name


def test_exports_are_the_package_objects() -> None:
    from chaos.run import run_drill
    from chaos.spec import Drill

    assert chaos.Drill is Drill
    assert chaos.run_drill is run_drill


def test_import_chaos_does_not_load_the_orchestrator_or_driver() -> None:
    code = "import sys, chaos; print(sorted(m for m in ('chaos.run', 'chaos.load', 'docker') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_unknown_attribute_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no_such_thing"):
        _ = chaos.no_such_thing  # type: ignore[attr-defined]
