"""A compose stack of the testbed from the offline images, on free loopback ports."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from chaos.testbed.docker_stack import (
    DEFAULT_PORTS,
    ComposeStack,
    build_offline_images,
    docker_down,
    docker_up,
)
from tests.servers import free_port

COMPOSE_DIR = Path(__file__).resolve().parents[2] / "compose"


def new_stack() -> ComposeStack:
    """A stack with its own project name and free published ports (engineers share the engine)."""
    return ComposeStack(project=f"chaos-test-{uuid.uuid4().hex[:8]}", offline=True,
                        compose_dir=COMPOSE_DIR, ports={s: free_port() for s in DEFAULT_PORTS})


@pytest.fixture(scope="session")
def offline_images(docker_client: object) -> None:
    """The offline images, built once per session (seconds when already built)."""
    if not os.environ.get("CHAOS_OFFLINE_BUILT"):
        build_offline_images(ComposeStack(offline=True, compose_dir=COMPOSE_DIR))


@pytest.fixture(scope="session")
def compose_stack(offline_images: None) -> Iterator[ComposeStack]:
    """One healthy stack shared by the session's compose tests (each leaves it healthy);
    torn down, and checked empty, at the end."""
    stack = new_stack()
    try:
        docker_up(stack, build=False)
        yield stack
    finally:
        docker_down(stack)
