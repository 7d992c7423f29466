"""The log privacy check: a unique canary sent as chat text must never reach the logs, while
every request line carries the observability fields. Only the canary's sha256 is kept."""

from __future__ import annotations

import hashlib
import secrets
import time
from collections import Counter
from collections.abc import Sequence

import anyio
import httpx

from chaos.release.checks import SCOPE, Target, exchange
from chaos.release.logs import LogSource, LogSourceError, line_fields
from chaos.slo.verdict import Criterion, Verdict

NO_USER_TEXT = "release.logs.no_user_text"
REQUIRED_FIELDS = "release.logs.required_fields"
POLL_S = 0.1


def new_canary() -> str:
    return f"release-canary-{secrets.token_hex(16)}"


def canary_sha256(canary: str) -> str:
    return hashlib.sha256(canary.encode("utf-8")).hexdigest()


async def check_log_privacy(
    client: httpx.AsyncClient, target: Target, subject: str, source: LogSource | None,
    fields: Sequence[str], *, wait_s: float, timeout_s: float, canary: str | None = None,
) -> list[Criterion]:
    canary = canary or new_canary()
    base: dict[str, object] = {"canary_sha256": canary_sha256(canary)}
    if source is None:
        return _inconclusive(base, "the environment declares no `logs:` source to read")
    base["source"] = source.description
    try:
        await anyio.to_thread.run_sync(source.mark)
    except LogSourceError as exc:
        return _inconclusive(base, f"cannot read the declared logs: {exc}")
    ex = await exchange(
        client, "POST", target.url(target.chat_path), headers=target.json_headers(subject),
        content=target.chat_body(canary, subject), region_header=target.region_header,
        timeout_s=timeout_s,
    )
    base["canary_request"] = ex.details()
    deadline = time.monotonic() + wait_s
    try:
        while True:
            lines = await anyio.to_thread.run_sync(source.read_since_mark)
            if any(len(line_fields(line, fields)) == len(fields) for line in lines):
                break
            if time.monotonic() >= deadline:
                break
            await anyio.sleep(POLL_S)
    except LogSourceError as exc:
        return _inconclusive(base, f"cannot read the declared logs: {exc}")
    return judge_lines(lines, canary, fields, base)


def judge_lines(
    lines: Sequence[str], canary: str, fields: Sequence[str], base: dict[str, object],
) -> list[Criterion]:
    """Pure judgement of the lines written during the check."""
    leaked = sum(1 for line in lines if canary in line)
    request_lines = [line_fields(line, fields) for line in lines]
    request_lines = [present for present in request_lines if present]
    complete = sum(1 for present in request_lines if len(present) == len(fields))
    missing = Counter(f for present in request_lines for f in fields if f not in present)
    details = dict(base, lines_read=len(lines), request_lines=len(request_lines),
                   complete_lines=complete, missing_fields=dict(missing))
    if leaked:
        privacy = Criterion(
            id=NO_USER_TEXT, verdict=Verdict.FAIL, measured=float(leaked), threshold=0.0,
            unit="count", scope=SCOPE, comparison="<=", details=details,
            reason=f"the chat text reached the logs: the canary appears in {leaked} line(s)",
        )
    elif not lines:
        privacy = Criterion(
            id=NO_USER_TEXT, verdict=Verdict.INCONCLUSIVE, measured=0.0, threshold=0.0,
            unit="count", scope=SCOPE, comparison="<=", details=details,
            reason="no log line was written during the check, so the source proves nothing",
        )
    else:
        privacy = Criterion(
            id=NO_USER_TEXT, verdict=Verdict.PASS, measured=0.0, threshold=0.0, unit="count",
            scope=SCOPE, comparison="<=", details=details,
            reason=f"the canary appears in none of the {len(lines)} line(s) written during the check",
        )
    if complete and not missing:
        verdict, reason = Verdict.PASS, f"all {complete} request line(s) carry {', '.join(fields)}"
    elif not request_lines:
        verdict, reason = Verdict.FAIL, f"no line written during the check carries {', '.join(fields)}"
    else:
        gaps = ", ".join(f"{f} missing in {n}" for f, n in sorted(missing.items()))
        verdict, reason = Verdict.FAIL, f"request lines lack required fields: {gaps}"
    fields_c = Criterion(
        id=REQUIRED_FIELDS, verdict=verdict, measured=float(complete), threshold=1.0,
        unit="count", scope=SCOPE, comparison=">=", reason=reason, details=details,
    )
    return [privacy, fields_c]


def _inconclusive(details: dict[str, object], reason: str) -> list[Criterion]:
    return [
        Criterion(id=id_, verdict=Verdict.INCONCLUSIVE, measured=None, threshold=None,
                  unit="count", scope=SCOPE, reason=reason, details=dict(details))
        for id_ in (NO_USER_TEXT, REQUIRED_FIELDS)
    ]
