"""The exception tree: one root, each error carrying the context its message is built from."""

from __future__ import annotations

import errno
from collections.abc import Sequence
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
    """Root of every error the framework raises on purpose. Exit 4 unless a subclass says
    otherwise: an error is never exit 1, which means a criterion failed."""

    exit_code: ExitCode = ExitCode.INFRASTRUCTURE


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


class ComponentStateLost(FaultError):
    """The component answers but no longer knows the target (a restarted Toxiproxy has no
    proxies): the fault is not in effect, and neither is what it acted on. Not retried."""


class CleanupError(FaultError):
    """`chaos cleanup` could not reach a component or revert an action: what it did, and each
    action it could not finish, one line each."""

    def __init__(self, target: str, done: Sequence[str], failures: Sequence[str]) -> None:
        self.done = tuple(done)
        self.failures = tuple(failures)
        super().__init__(target, "cleanup", f"{len(self.failures)} action(s) not reverted: "
                         + "; ".join(self.failures))


class LoadError(ChaosError):
    """The load driver could not start or keep its workers."""

    exit_code = ExitCode.INFRASTRUCTURE


class TestbedError(ChaosError):
    """The embedded testbed could not start, stop or be found."""

    exit_code = ExitCode.INFRASTRUCTURE


class EvidenceError(ChaosError):
    """An evidence bundle is unreadable, incomplete where it must not be, or fails its manifest."""

    exit_code = ExitCode.USAGE


@dataclass(frozen=True, slots=True)
class StillApplied:
    """A fault action the run could not revert: what a person must finish."""

    fault_id: str
    primitive: str  # e.g. "toxiproxy.disable"
    target: str  # proxy, container, process or URL
    error: str = ""  # why its apply failed, if it did, then the last revert error
    verified: bool = True  # its apply was verified; else it may or may not have taken effect

    def line(self) -> str:
        return f"{self.fault_id}  {self.primitive}  {self.target}" + (
            "" if self.verified else "  (apply never verified: it may not have taken effect)")


class RevertError(FaultError):
    """Fault actions still applied after the revert deadline; names each and the command that
    finishes the job (`chaos cleanup --run DIR`)."""

    def __init__(self, still_applied: Sequence[StillApplied], *, cleanup: str,
                 deadline_s: float) -> None:
        self.still_applied = tuple(still_applied)
        self.cleanup = cleanup
        self.deadline_s = deadline_s
        first = next((a.error for a in self.still_applied if a.error), "")
        unverified = sum(1 for a in self.still_applied if not a.verified)
        detail = (f"{len(self.still_applied)} fault action(s) still applied after "
                  f"{deadline_s:g}s of retries"
                  + (f", {unverified} of them never verified applied (they may not have taken "
                     f"effect)" if unverified else "")
                  + (f" (last error: {one_line(first, 240)})" if first else "")
                  + f"; once the component is back run: {cleanup}")
        super().__init__(", ".join(sorted({a.target for a in self.still_applied})) or "faults",
                         "revert", detail)


class EvidenceWriteError(InfrastructureError):
    """The evidence directory refused a write (full, read-only, gone): names the file, the
    operation and what to do."""

    def __init__(self, path: str, operation: str, cause: OSError, *, hint: str = "",
                 sealed: bool = False) -> None:
        self.path = path
        self.operation = operation
        self.sealed = sealed  # the verdict files and manifest were written before it failed
        self.errno = cause.errno
        reason = cause.strerror or type(cause).__name__
        if cause.errno is not None and cause.errno in errno.errorcode:
            reason += f" ({errno.errorcode[cause.errno]})"
        self.reason = reason
        super().__init__(f"evidence {path}: cannot {operation}: {reason}"
                         + (f"; {hint}" if hint else ""))


def leaf_exceptions(exc: BaseException) -> list[BaseException]:
    """The exceptions inside (nested) exception groups, in order; `exc` itself otherwise."""
    if isinstance(exc, BaseExceptionGroup):
        return [leaf for inner in exc.exceptions for leaf in leaf_exceptions(inner)]
    return [exc]


def primary_error(exc: BaseException) -> BaseException:
    """The one exception that explains a failure, out of an anyio task group's
    ExceptionGroup: a revert failure first, then any fault error, any other ChaosError, an
    OSError, any other Exception; cancellations and exits last."""

    def rank(e: BaseException) -> int:
        if isinstance(e, RevertError):
            return 0
        if isinstance(e, FaultError):
            return 1
        if isinstance(e, ChaosError):
            return 2
        if isinstance(e, OSError):
            return 3
        if isinstance(e, Exception):
            return 4
        return 5  # cancellation, KeyboardInterrupt, SystemExit

    leaves = leaf_exceptions(exc)
    return min(leaves, key=rank) if leaves else exc


def one_line(text: str, limit: int = 600) -> str:
    """`text` on one line (whitespace runs collapsed), clipped to `limit` characters."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


def describe(exc: BaseException) -> str:
    """One line for any exception: a ChaosError's own message; an OSError with its file and
    errno name; anything else as an internal error (a bug) with its type."""
    if isinstance(exc, ChaosError):
        return one_line(str(exc))
    if isinstance(exc, OSError):
        name = errno.errorcode.get(exc.errno or -1, "")
        reason = (exc.strerror or type(exc).__name__) + (f" ({name})" if name else "")
        where = f"{exc.filename}: " if exc.filename else ""
        return one_line(f"{where}{reason}")
    text = str(exc)
    return one_line(f"internal error {type(exc).__name__}" + (f": {text}" if text else ""))


def exit_code_of(exc: BaseException) -> ExitCode:
    """A ChaosError's exit code (never FAIL); 4 for anything else underneath."""
    if isinstance(exc, ChaosError) and exc.exit_code is not ExitCode.FAIL:
        return exc.exit_code
    return ExitCode.INFRASTRUCTURE
