"""FaultSession: applies a run's faults through the journal and reverts everything still active
when the context ends, whatever the path (normal end, exception, cancellation)."""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

import anyio

from chaos.errors import ChaosError, FaultError, RevertError, StillApplied
from chaos.faults.executor import Executor
from chaos.faults.journal import JOURNAL_NAME, Journal
from chaos.faults.primitives import Primitive, Targets
from chaos.faults.revert import revert_with_outcome
from chaos.faults.scenarios import resolve_fault, targets_for
from chaos.recording import FaultAction, FaultRecord

if TYPE_CHECKING:
    from chaos.faults.scenarios import AnyFault
    from chaos.spec.environment import Environment


@dataclass(frozen=True, slots=True)
class FaultSessionStatistics:
    """Counters of one session (primitives, not faults, unless named so)."""

    faults_applied: int
    faults_active: int
    primitives_applied: int
    primitives_active: int
    reverted_targeted: int
    reverted_broad: int
    revert_failures: int


DEFAULT_REVERT_DEADLINE_S = 60.0


def cleanup_command(run_dir: Path) -> str:
    """The command that finishes what a run could not revert (reads its journal)."""
    import shlex

    return f"chaos cleanup --run {shlex.quote(str(run_dir))}"


@dataclass
class _Active:
    seq: int
    fault_id: str
    primitive: Primitive
    index: int  # position of its FaultAction in the fault's record
    deadline: float | None = None  # monotonic; set by the first revert attempt


class FaultSession:
    """`async with FaultSession(env, run_dir=..., run_id=...) as session:`

    Every primitive's undo is journalled (fsync) before it is applied; `apply` returns once the
    effect is verified, `applied_at` being that instant. Leaving the context reverts every
    active primitive in reverse order, shielded from cancellation, verified, retried, and
    falling back to the broad revert (recorded as `revert_method="broad"`). A primitive whose
    revert keeps failing is retried until `revert_deadline_s` after its first attempt; what is
    still applied then is `still_applied()`, and leaving the context raises RevertError
    naming it and the `chaos cleanup` command that finishes the job.
    """

    def __init__(self, env: Environment | None, *, run_dir: Path, run_id: str,
                 targets: Targets | None = None, verify_timeout_s: float = 10.0,
                 revert_timeout_s: float = 20.0, revert_attempts: int = 3,
                 revert_deadline_s: float | None = DEFAULT_REVERT_DEADLINE_S,
                 executor: Executor | None = None) -> None:
        self._env = env
        if targets is None:
            if env is None:
                raise ValueError("FaultSession needs an environment or explicit targets")
            targets = targets_for(env)
        self.targets = targets
        self.run_dir = Path(run_dir)
        self.run_id = run_id
        self.journal_path = self.run_dir / JOURNAL_NAME
        self._executor = executor or Executor(self.targets, verify_timeout_s=verify_timeout_s)
        self._revert_timeout_s = revert_timeout_s
        self._revert_attempts = revert_attempts
        self.revert_deadline_s = revert_deadline_s
        self._journal: Journal | None = None
        self._records: dict[str, FaultRecord] = {}
        self._active: list[_Active] = []  # Invariant: in apply order
        self._reverted = {"targeted": 0, "broad": 0}
        self._revert_failures = 0
        self.journal_errors: list[str] = []  # journal lines a failing disk refused
        self._primitives_applied = 0
        # Why an apply failed, per fault and per action (fault id, action index): kept beside
        # any later revert error, never overwritten by it.
        self._apply_errors: dict[str, str] = {}
        self._action_apply_errors: dict[tuple[str, int], str] = {}

    @staticmethod
    def targets_of(env: Environment) -> Targets:
        """Where `env`'s primitives act (what the journal header records)."""
        return targets_for(env)

    @property
    def executor(self) -> Executor:
        return self._executor

    async def __aenter__(self) -> FaultSession:
        self._journal = Journal.create(self.journal_path, run_id=self.run_id, targets=self.targets)
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        with anyio.CancelScope(shield=True):
            try:
                for fault_id in reversed(list(dict.fromkeys(a.fault_id for a in self._active))):
                    await self._revert_fault(fault_id)
                self._journal_note({"type": "closed", "open": len(self._active)})
            finally:
                if self._journal is not None:
                    self._journal.close()
                await self._executor.aclose()
        if self._active and exc is None:
            raise self.revert_error()

    def still_applied(self) -> list[StillApplied]:
        """Every action applied (or being applied) and not reverted, in apply order. One
        whose apply was never verified (it failed, or was cut short) may not have taken
        effect: `verified` says which, as no one can tell from here."""
        out = []
        for active in self._active:
            action = self._records[active.fault_id].actions[active.index]
            out.append(StillApplied(active.fault_id, active.primitive.kind,
                                    active.primitive.target, action.error or "",
                                    verified=action.applied_at is not None))
        return out

    def revert_error(self) -> RevertError:
        """What `still_applied()` says, as the error a run ends with."""
        return RevertError(self.still_applied(), cleanup=cleanup_command(self.run_dir),
                           deadline_s=self.revert_deadline_s or 0.0)

    # -- public --------------------------------------------------------------------

    def plan(self, fault: AnyFault) -> list[Primitive]:
        if self._env is None:
            raise FaultError(fault.id, "resolve", "this session has no environment")
        return resolve_fault(fault, self._env)

    async def apply(self, fault: AnyFault, *, scheduled_at: float | None = None) -> FaultRecord:
        """Apply every primitive of `fault` (journal first, then act, then verify)."""
        if fault.id in self._records:
            raise FaultError(fault.id, "apply", "this fault was already applied in this run")
        scheduled = time.time() if scheduled_at is None else scheduled_at
        record = FaultRecord(id=fault.id, scenario=fault.scenario, mode=fault.mode,
                             target=fault.target, scheduled_at=scheduled,
                             scheduled_end=scheduled + fault.for_.total_seconds())
        self._records[fault.id] = record
        await self.apply_primitives(fault.id, self.plan(fault))
        return self._records[fault.id]

    async def apply_primitives(self, fault_id: str, primitives: list[Primitive], *,
                               scenario: str = "", mode: str = "", target: str = "",
                               duration_s: float = 0.0) -> FaultRecord:
        """Apply explicit primitives as one fault (what `apply` does after resolving)."""
        if self._journal is None:
            raise FaultError(fault_id, "apply", "the session is not open (use `async with`)")
        if fault_id not in self._records:
            now = time.time()
            self._records[fault_id] = FaultRecord(fault_id, scenario, mode, target, now,
                                                  now + duration_s)
        index: int | None = None  # the action being applied, until it is verified
        try:
            for planned in primitives:
                for p in await self._executor.prepare(planned):
                    seq = self._journal.intend(fault_id, p)
                    index = self._add_action(fault_id, FaultAction(p.kind, p.target, dict(p.params)))
                    # Invariant: active before acting, so a cancellation mid-apply still reverts.
                    self._active.append(_Active(seq, fault_id, p, index))
                    began = time.monotonic()
                    await self._executor.apply(p)
                    applied_at = time.time()
                    self._journal_note({"type": "applied", "seq": seq})  # replay needs only `apply`
                    self._primitives_applied += 1
                    self._update_action(fault_id, index, applied_at=applied_at,
                                        apply_s=round(time.monotonic() - began, 4))
                    index = None
        except ChaosError as exc:
            self._apply_failed(fault_id, index, str(exc))
            await self._revert_fault(fault_id)
            raise
        except BaseException:
            # Cancelled (SIGINT, abort, timeout) while applying: the record says so; the
            # primitives already active are reverted by whoever leaves the session.
            verified = sum(1 for a in self._records[fault_id].actions if a.applied_at is not None)
            self._apply_failed(fault_id, index, f"interrupted while applying ({verified} of "
                               f"{len(self._records[fault_id].actions)} primitives verified)")
            raise
        record = self._records[fault_id]
        self._set(fault_id, applied_at=max((a.applied_at or 0.0) for a in record.actions)
                  if record.actions else time.time())
        return self._records[fault_id]

    async def revert(self, fault_id: str) -> FaultRecord:
        """Revert one fault's primitives (reverse order); its record gets `reverted_at`."""
        if fault_id not in self._records:
            raise FaultError(fault_id, "revert", "no such fault in this session")
        record = await self._revert_fault(fault_id)
        if any(a.fault_id == fault_id for a in self._active):
            raise FaultError(fault_id, "revert", record.error or "not reverted")
        return record

    def records(self) -> list[FaultRecord]:
        return list(self._records.values())

    def statistics(self) -> FaultSessionStatistics:
        active_faults = {a.fault_id for a in self._active}
        return FaultSessionStatistics(
            faults_applied=sum(1 for r in self._records.values() if r.applied_at is not None),
            faults_active=len(active_faults), primitives_applied=self._primitives_applied,
            primitives_active=len(self._active), reverted_targeted=self._reverted["targeted"],
            reverted_broad=self._reverted["broad"], revert_failures=self._revert_failures)

    # -- internals -------------------------------------------------------------------

    async def _revert_fault(self, fault_id: str) -> FaultRecord:
        with anyio.CancelScope(shield=True):
            errors: list[str] = []
            for active in reversed([a for a in self._active if a.fault_id == fault_id]):
                if active.deadline is None and self.revert_deadline_s is not None:
                    active.deadline = time.monotonic() + self.revert_deadline_s
                began = time.monotonic()
                try:
                    outcome = await revert_with_outcome(
                        self._executor, active.primitive, attempts=self._revert_attempts,
                        timeout_s=self._revert_timeout_s, deadline=active.deadline)
                except FaultError as exc:
                    self._revert_failures += 1
                    errors.append(str(exc))
                    previous = self._records[fault_id].actions[active.index]
                    why = self._action_apply_errors.get((fault_id, active.index))
                    self._update_action(fault_id, active.index,
                                        error=str(exc) if why is None else f"{why}; {exc}",
                                        revert_s=round((previous.revert_s or 0.0)
                                                       + time.monotonic() - began, 4))
                    self._journal_note({"type": "revert_failed", "seq": active.seq,
                                        "error": str(exc)})
                    continue
                reverted_at = time.time()
                self._active.remove(active)
                self._reverted[outcome.method] += 1
                self._journal_note({"type": "reverted", "seq": active.seq,
                                    "method": outcome.method})
                previous = self._records[fault_id].actions[active.index]
                self._update_action(fault_id, active.index, reverted_at=reverted_at,
                                    revert_method=outcome.method,
                                    revert_s=round((previous.revert_s or 0.0) + outcome.seconds, 4),
                                    revert_attempts=previous.revert_attempts + outcome.attempts)
            record = self._records[fault_id]
            if not any(a.fault_id == fault_id for a in self._active):
                done = [a.reverted_at for a in record.actions if a.reverted_at is not None]
                self._set(fault_id, reverted_at=max(done) if done else time.time())
            if errors:  # after the apply's own error, if it had one
                why = self._apply_errors.get(fault_id)
                self._set(fault_id, error="; ".join(errors if why is None else [why, *errors]))
        return self._records[fault_id]

    def _apply_failed(self, fault_id: str, index: int | None, why: str) -> None:
        """Record why applying `fault_id` failed, on the fault and on the action it failed on
        (`index`, None when no action had begun), where a later revert error joins it."""
        self._apply_errors[fault_id] = why
        if index is not None:
            self._action_apply_errors[(fault_id, index)] = why
            self._update_action(fault_id, index, error=why)
        self._set(fault_id, error=why)

    def _journal_note(self, entry: dict[str, object]) -> None:
        """Journal what a revert did. A full or failing disk must not stop the reverts: the
        line is lost (the entry stays open, and replaying an undo that is done is harmless)."""
        if self._journal is None:
            return
        try:
            self._journal.write(entry)
        except OSError as exc:
            self.journal_errors.append(f"{self.journal_path}: {exc.strerror or exc}")

    def _add_action(self, fault_id: str, action: FaultAction) -> int:
        record = self._records[fault_id]
        self._records[fault_id] = replace(record, actions=(*record.actions, action))
        return len(record.actions)

    def _update_action(self, fault_id: str, index: int, **changes: object) -> None:
        record = self._records[fault_id]
        actions = list(record.actions)
        actions[index] = replace(actions[index], **changes)  # type: ignore[arg-type]  # FaultAction fields
        self._records[fault_id] = replace(record, actions=tuple(actions))

    def _set(self, fault_id: str, **changes: object) -> None:
        self._records[fault_id] = replace(self._records[fault_id], **changes)  # type: ignore[arg-type]  # FaultRecord fields
