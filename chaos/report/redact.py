"""Secret redaction for evidence: moved to chaos.redact (its one owner); re-exported here."""

from __future__ import annotations

from chaos.redact import REDACTED, redact

__all__ = ["REDACTED", "redact"]
