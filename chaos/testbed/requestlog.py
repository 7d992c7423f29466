"""One JSON line per request, with a hashed subject and never the message text."""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path
from typing import IO


def hash_subject(subject: str | None) -> str | None:
    """sha256 of the subject, first 16 hex digits (stable, not reversible in practice)."""
    if subject is None:
        return None
    return hashlib.sha256(subject.encode()).hexdigest()[:16]


class RequestLog:
    """Appends request records to the component's log file, one JSON object per line."""

    def __init__(self, path: Path, *, component: str, log_message_text: bool = False) -> None:
        self.path = path
        self.component = component
        # Test hook only (documented): lets the release drill's privacy check fail on purpose.
        self.log_message_text = log_message_text
        self._fh: IO[str] | None = None

    def write(self, *, request_id: str, subject: str | None, status: int, code: str,
              latency_ms: float, waf_decision: str, plan_decision: str,
              message: str | None = None, **extra: object) -> None:
        record: dict[str, object] = {
            "ts": round(time.time(), 3), "component": self.component, "request_id": request_id,
            "hashed_subject": hash_subject(subject), "waf_decision": waf_decision,
            "plan_decision": plan_decision, "latency_ms": round(latency_ms, 1),
            "status": status, "code": code, **extra,
        }
        if self.log_message_text and message is not None:
            record["message_text"] = message
        if self._fh is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fh = self.path.open("a", encoding="utf-8", buffering=1)
        self._fh.write(json.dumps(record) + "\n")

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None
