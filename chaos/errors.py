"""The exception tree: one root, each error carrying the context its message is built from."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum


class ExitCode(IntEnum):
    """Process exit codes (DESIGN section 6)."""

    PASS = 0
    FAIL = 1  # a criterion failed, or the run was aborted by a stop condition
    USAGE = 2  # bad command line or invalid spec
    INCONCLUSIVE = 3
    INFRASTRUCTURE = 4  # preflight or infrastructure failure
    INTERRUPTED = 130  # SIGINT / SIGTERM, after every fault was reverted


class ChaosError(Exception):
    """Root of every error the framework raises on purpose."""

    exit_code: ExitCode = ExitCode.FAIL


@dataclass(frozen=True)
class SpecIssue:
    """One problem in one spec file, located precisely enough to act on."""

    path: str
    line: int | None
    column: int | None
    field: str  # dotted field path, e.g. "faults[0].for"; "" for the document itself
    message: str  # one plain sentence

    def __str__(self) -> str:
        where = self.path
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        field = f" {self.field}:" if self.field else ""
        return f"{where}:{field} {self.message}"


class SpecError(ChaosError):
    """A drill or environment file is invalid; carries every issue found in it."""

    exit_code = ExitCode.USAGE

    def __init__(self, issues: list[SpecIssue] | SpecIssue) -> None:
        self.issues = [issues] if isinstance(issues, SpecIssue) else list(issues)
        if not self.issues:
            raise ValueError("SpecError needs at least one issue")
        super().__init__("\n".join(str(i) for i in self.issues))

    @property
    def path(self) -> str:
        return self.issues[0].path

    @property
    def line(self) -> int | None:
        return self.issues[0].line

    @property
    def field(self) -> str:
        return self.issues[0].field


class PreflightError(ChaosError):
    """Something the drill needs is not there: an API, a proxy, a container, a health check."""

    exit_code = ExitCode.INFRASTRUCTURE

    def __init__(self, check: str, detail: str) -> None:
        self.check = check
        self.detail = detail
        super().__init__(f"preflight {check}: {detail}")


class InfrastructureError(ChaosError):
    """A real component (Toxiproxy, Docker, Redis, a testbed process) misbehaved."""

    exit_code = ExitCode.INFRASTRUCTURE


class FaultError(ChaosError):
    """Applying, verifying or reverting a fault failed."""

    exit_code = ExitCode.INFRASTRUCTURE

    def __init__(self, target: str, action: str, detail: str) -> None:
        self.target = target
        self.action = action
        self.detail = detail
        super().__init__(f"fault {action} on {target}: {detail}")


class ToxiproxyError(FaultError):
    """A Toxiproxy API call failed after its retries."""


class DockerError(FaultError):
    """A Docker engine call failed or its effect could not be verified."""


class LoadError(ChaosError):
    """The load driver could not start or keep its workers."""

    exit_code = ExitCode.INFRASTRUCTURE


class TestbedError(ChaosError):
    """The embedded testbed could not start, stop or be found."""

    exit_code = ExitCode.INFRASTRUCTURE


class EvidenceError(ChaosError):
    """An evidence bundle is unreadable, incomplete where it must not be, or fails its manifest."""

    exit_code = ExitCode.USAGE
