"""Real containers for Docker fault tests: a locally built image (static Go binary on scratch),
a user-defined bridge network, a server container with an alias and a published loopback
port, and a probe container on the same network."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from tests.servers import wait_for

SOURCE = Path(__file__).parent / "images" / "faultserver"


def build_image(client: Any) -> str:
    """Build (once per source version) the faultserver image; returns its tag."""
    digest = hashlib.sha256(b"".join((SOURCE / n).read_bytes()
                                     for n in ("main.go", "Dockerfile", "go.mod"))).hexdigest()[:12]
    tag = f"chaos-test/faultserver:{digest}"
    if client.images.list(name=tag):
        return tag
    go = shutil.which("go")
    assert go is not None, "Go is needed to build the test image (run scripts/setup.sh)"
    with tempfile.TemporaryDirectory() as tmp:
        for name in ("main.go", "Dockerfile", "go.mod"):
            shutil.copy(SOURCE / name, tmp)
        subprocess.run([go, "build", "-o", "faultserver", "."], cwd=tmp, check=True,
                       env={**os.environ, "CGO_ENABLED": "0", "GOFLAGS": "-mod=mod"},
                       capture_output=True)
        client.images.build(path=tmp, tag=tag, rm=True)
    return tag


@dataclass
class DockerWorld:
    client: Any
    network: str
    server: str  # container name; alias "backend" on `network`
    probe: str

    def host_port(self) -> int | None:
        """The published 127.0.0.1 port of the server now (it changes across restarts)."""
        info = self.client.api.inspect_container(self.server)
        bindings = (info["NetworkSettings"]["Ports"] or {}).get("8080/tcp") or []
        return int(bindings[0]["HostPort"]) if bindings else None

    def get(self, timeout_s: float = 1.0) -> str:
        port = self.host_port()
        if port is None:
            raise ConnectionRefusedError("no published port")
        return httpx.get(f"http://127.0.0.1:{port}/", timeout=timeout_s).text

    def probe_alias(self) -> tuple[int, str]:
        """From inside the probe container: GET http://backend:8080/ (the alias)."""
        exec_id = self.client.api.exec_create(self.probe, ["/faultserver", "probe",
                                                           "http://backend:8080/"])["Id"]
        out = self.client.api.exec_start(exec_id).decode()
        code = self.client.api.exec_inspect(exec_id)["ExitCode"]
        return int(code), out


@contextmanager
def docker_world(client: Any, *, labels: dict[str, str] | None = None) -> Iterator[DockerWorld]:
    tag = build_image(client)
    suffix = uuid.uuid4().hex[:8]
    network = client.networks.create(f"chaos-faults-{suffix}", driver="bridge")
    made: list[Any] = []
    try:
        server = client.containers.create(
            tag, name=f"chaos-faults-srv-{suffix}", labels=labels or {},
            ports={"8080/tcp": ("127.0.0.1", None)}, network=network.name,
            networking_config={network.name: client.api.create_endpoint_config(aliases=["backend"])})
        made.append(server)
        probe = client.containers.create(tag, name=f"chaos-faults-probe-{suffix}",
                                         network=network.name)
        made.append(probe)
        server.start()
        probe.start()
        world = DockerWorld(client, network.name, server.name, probe.name)
        wait_for(lambda: world.get().startswith("ok"), 15, "faultserver container")
        yield world
    finally:
        import docker.errors

        for container in made:
            with suppress(docker.errors.NotFound):
                container.remove(force=True)
        network.remove()
