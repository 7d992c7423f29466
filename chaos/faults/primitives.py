"""Primitives: the smallest fault actions, as JSON-serialisable values carrying their own undo.

A scenario resolves into primitives (no I/O); the executor *prepares* each one (resolving
containers, saving network aliases), the session journals it, then applies it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

PrimitiveKind = Literal[
    "toxiproxy.disable",  # target: proxy; undo: enable
    "toxiproxy.toxic",  # target: proxy; params: name, type, stream, toxicity, attributes; undo: delete
    "docker.stop",  # target: container ref; params: timeout_s; undo: start
    "docker.kill",  # target: container ref; params: signal; undo: start
    "docker.pause",  # target: container ref; undo: unpause
    "docker.disconnect",  # target: container ref; params: network, aliases; undo: connect
    "process.kill",  # target: testbed component; params: signal; undo: restart_component
    "process.stop",  # target: testbed component; undo: SIGCONT
    "http",  # target: URL; params: apply {method,url,body,expect_status}, undo {...}
]
PRIMITIVE_KINDS: tuple[str, ...] = PrimitiveKind.__args__  # type: ignore[attr-defined]  # Literal introspection


@dataclass(frozen=True, slots=True)
class Primitive:
    """One action on one target, with everything needed to undo it later (even from another
    process reading the journal)."""

    kind: PrimitiveKind
    target: str
    params: Mapping[str, Any] = field(default_factory=dict)

    def describe(self) -> str:
        """One human-readable line, e.g. `toxiproxy: add latency toxic 500ms on us-east-primary`."""
        p = self.params
        match self.kind:
            case "toxiproxy.disable":
                return f"toxiproxy: disable proxy {self.target} (refuse new, close open connections)"
            case "toxiproxy.toxic":
                attrs = ", ".join(f"{k}={v}" for k, v in p.get("attributes", {}).items())
                tox = p.get("toxicity", 1.0)
                share = "" if tox >= 1.0 else f", toxicity {tox:g}"
                return (f"toxiproxy: add {p.get('type')} toxic {p.get('name')} on {self.target} "
                        f"({p.get('stream', 'downstream')}{', ' + attrs if attrs else ''}{share})")
            case "docker.stop":
                return f"docker: stop container {self.target}"
            case "docker.kill":
                return f"docker: kill container {self.target} with {p.get('signal', 'SIGKILL')}"
            case "docker.pause":
                return f"docker: pause container {self.target}"
            case "docker.disconnect":
                return f"docker: disconnect container {self.target} from network {p.get('network', '*')}"
            case "process.kill":
                return f"process: send {p.get('signal', 'SIGKILL')} to {self.target}, restart on revert"
            case "process.stop":
                return f"process: SIGSTOP {self.target}, SIGCONT on revert"
            case "http":
                a, u = p["apply"], p["undo"]
                text = (f"http: {a['method']} {a['url']} (expect {a['expect_status']}); "
                        f"revert {u['method']} {u['url']} (expect {u['expect_status']})")
                return text + ("; each read back with GET" if p.get("verify") else "")
        return f"{self.kind} {self.target}"  # pragma: no cover - exhaustive above

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "target": self.target, "params": dict(self.params)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Primitive:
        kind = data["kind"]
        if kind not in PRIMITIVE_KINDS:
            raise ValueError(f"unknown primitive kind {kind!r}")
        return cls(kind=kind, target=str(data["target"]), params=dict(data.get("params") or {}))


@dataclass(frozen=True, slots=True)
class Targets:
    """Where primitives act: what the journal header records so a watchdog or `chaos cleanup`
    in another process can undo them without the environment file."""

    toxiproxy_api: str | None = None
    runtime: Literal["process", "docker", "none"] = "none"
    state_file: str | None = None  # process runtime: the testbed state file
    docker_host: str | None = None  # docker runtime: None = the engine from the environment
    compose_project: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"toxiproxy_api": self.toxiproxy_api, "runtime": self.runtime,
                "state_file": self.state_file, "docker_host": self.docker_host,
                "compose_project": self.compose_project}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Targets:
        return cls(toxiproxy_api=data.get("toxiproxy_api"), runtime=data.get("runtime", "none"),
                   state_file=data.get("state_file"), docker_host=data.get("docker_host"),
                   compose_project=data.get("compose_project"))
