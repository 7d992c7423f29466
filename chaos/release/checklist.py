"""The release gate: run the Phase 16 checklist against an environment and decide promotion."""

from __future__ import annotations

import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

import httpx

from chaos.errors import ChaosError, ExitCode, PreflightError
from chaos.release.checks import (
    Target,
    burst,
    burst_criteria,
    chat_happy_criterion,
    exchange,
    status_criterion,
)
from chaos.release.config import Checklist
from chaos.release.logs import LogSource, log_source
from chaos.release.privacy import canary_sha256, check_log_privacy, new_canary
from chaos.slo.verdict import Criterion, Verdict
from chaos.spec.environment import DockerRuntime, Environment
from chaos.spec.envvars import expand_env


class ChangeClass(StrEnum):
    """Phase 16 upgrade classes."""

    A = "A"  # safe/reversible, no behaviour change: smokes
    B = "B"  # policy/limit adjustments: smokes + the staging drill subset
    C = "C"  # cognition / personalization / raw-content logging: forbidden


CLASS_C_REASON = (
    "Class C changes (cognition, personalization or raw-content logging) are forbidden in "
    "Phase 16: no checklist can make them releasable, so none was run"
)


class ChangeClassRefused(ChaosError):
    """The declared change class may not be promoted at all (class C)."""

    exit_code = ExitCode.USAGE

    def __init__(self, change_class: ChangeClass, reason: str) -> None:
        self.change_class = change_class
        self.reason = reason
        super().__init__(f"change class {change_class.value} refused: {reason}")


# Runs one class B drill and returns its criterion (injected by the caller: the run package).
DrillRunner = Callable[[Path], Awaitable[Criterion]]


@dataclass(frozen=True, slots=True)
class ReleaseResult:
    run_id: str
    environment: str
    change_class: ChangeClass
    started_at: float
    ended_at: float
    criteria: tuple[Criterion, ...]
    canary_sha256: str
    subjects: tuple[str, ...] = ()
    log_source: str | None = None
    drills: tuple[str, ...] = ()
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def verdict(self) -> Verdict:
        return Verdict.combine(c.verdict for c in self.criteria)

    @property
    def promotion_allowed(self) -> bool:
        return self.verdict is Verdict.PASS

    @property
    def promotion_reason(self) -> str:
        if self.promotion_allowed:
            return (f"class {self.change_class.value}: all {len(self.criteria)} criteria pass; "
                    "promotion may proceed")
        failed = [c.id for c in self.criteria if c.verdict is Verdict.FAIL]
        unsure = [c.id for c in self.criteria if c.verdict is Verdict.INCONCLUSIVE]
        parts = []
        if failed:
            parts.append("failed: " + ", ".join(failed))
        if unsure:
            parts.append("inconclusive: " + ", ".join(unsure))
        return f"class {self.change_class.value}: promotion blocked ({'; '.join(parts)})"

    @property
    def exit_code(self) -> ExitCode:
        return {Verdict.PASS: ExitCode.PASS, Verdict.FAIL: ExitCode.FAIL,
                Verdict.INCONCLUSIVE: ExitCode.INCONCLUSIVE}[self.verdict]


def refuse_class(change_class: ChangeClass) -> None:
    """Raise ChangeClassRefused for a class that may never be promoted (before any traffic)."""
    if change_class is ChangeClass.C:
        raise ChangeClassRefused(change_class, CLASS_C_REASON)


def target_of(env: Environment, where: str = "") -> Target:
    """The environment's target with `${VAR}` expanded (the token keeps `{subject}`)."""
    t = env.target
    token = expand_env(t.auth.token, where=where) if t.auth is not None else None
    return Target(
        base_url=expand_env(t.base_url, where=where), chat_path=t.chat_path_resolved,
        health_path=t.health_path, token_template=token, region_header=t.region_header,
        profile=t.profile(),
    )


def log_source_of(env: Environment, where: str = "") -> LogSource | None:
    if env.logs is None:
        return None
    docker_host = env.runtime.docker_host if isinstance(env.runtime, DockerRuntime) else None
    return log_source(env.logs, docker_host=docker_host, where=where)


async def run_release(
    env: Environment, checklist: Checklist, *, change_class: ChangeClass, env_path: str = "",
    burst_requests: int | None = None, class_b_drills: tuple[Path, ...] = (),
    drill_runner: DrillRunner | None = None, canary: str | None = None,
) -> ReleaseResult:
    """Run the checklist (and, for class B, the drills) against `env`; raises
    ChangeClassRefused for class C and PreflightError when the target does not answer at all."""
    refuse_class(change_class)
    run_id = secrets.token_hex(6)
    subject = f"release-{run_id}"
    burst_subject = f"release-burst-{run_id}"
    target = target_of(env, env_path)
    source = log_source_of(env, env_path)
    timeout_s = checklist.timeout.total_seconds()
    n_burst = burst_requests if burst_requests is not None else checklist.burst.requests
    canary = canary or new_canary()
    started = time.time()
    criteria: list[Criterion] = []
    limits = httpx.Limits(max_connections=max(n_burst, 10) + 10, max_keepalive_connections=20)
    async with httpx.AsyncClient(timeout=httpx.Timeout(timeout_s), limits=limits) as client:
        health = await exchange(client, "GET", target.url(target.health_path), headers={},
                                region_header=target.region_header, timeout_s=timeout_s)
        if health.status is None and health.error == "connect":
            raise PreflightError("target", f"{target.url(target.health_path)} refuses connections: "
                                 "is the environment up?")
        criteria.append(status_criterion("release.health", f"GET {target.health_path}", health, 200))
        for id_, path, auth in (("release.db_health", checklist.paths.db_health, False),
                                ("release.auth_whoami", checklist.paths.whoami, True)):
            ex = await exchange(client, "GET", target.url(path),
                                headers=target.headers(subject) if auth else {},
                                region_header=target.region_header, timeout_s=timeout_s)
            criteria.append(status_criterion(id_, f"GET {path}", ex, 200))
        chat_url = target.url(target.chat_path)
        happy = await exchange(client, "POST", chat_url, headers=target.json_headers(subject),
                               content=target.chat_body(checklist.payload, subject),
                               region_header=target.region_header, timeout_s=timeout_s)
        criteria.append(chat_happy_criterion(happy))
        wrong = await exchange(
            client, "POST", chat_url,
            headers=target.json_headers(subject) | {"content-type": "text/plain"},
            content=checklist.payload.encode(), region_header=target.region_header,
            timeout_s=timeout_s,
        )
        criteria.append(status_criterion(
            "release.chat_wrong_content_type", "POST chat as text/plain", wrong, 415))
        criteria += await check_log_privacy(
            client, target, subject, source, checklist.privacy.required_fields,
            wait_s=checklist.privacy.wait.total_seconds(), timeout_s=timeout_s, canary=canary,
        )
        results = await burst(client, target, burst_subject, checklist.payload, n_burst, timeout_s)
        criteria += burst_criteria(results)
    drills: list[str] = []
    if change_class is ChangeClass.B:
        criteria += await _class_b(class_b_drills, drill_runner)
        drills = [str(p) for p in class_b_drills]
    return ReleaseResult(
        run_id=run_id, environment=env.name, change_class=change_class, started_at=started,
        ended_at=time.time(), criteria=tuple(criteria), canary_sha256=canary_sha256(canary),
        subjects=(subject, burst_subject), log_source=source.description if source else None,
        drills=tuple(drills),
        options={"burst_requests": n_burst, "payload": checklist.payload, "checklist": checklist.name},
    )


async def _class_b(drills: tuple[Path, ...], runner: DrillRunner | None) -> list[Criterion]:
    if not drills:
        return [Criterion(
            id="release.class_b.drills", verdict=Verdict.INCONCLUSIVE, measured=0.0, threshold=1.0,
            unit="count", scope="release", comparison=">=",
            reason="class B needs the staging drill subset, but the environment lists no "
                   "release.class_b_drills",
        )]
    if runner is None:
        raise ValueError("class B drills were given without a drill runner")
    return [await runner(p) for p in drills]
