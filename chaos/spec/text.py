"""Text in spec messages and spec values: values quoted short, control characters found and shown."""

from __future__ import annotations

import re
import unicodedata

QUOTE_LIMIT = 80  # characters of a value a message quotes at most
_QUOTED = re.compile(r"'([^'\n]{" + str(QUOTE_LIMIT + 1) + r",})'")


def clip(text: str, limit: int = QUOTE_LIMIT) -> str:
    """`text` cut to at most `limit` characters, ending in '...' when cut."""
    return text if len(text) <= limit else text[: limit - 3] + "..."


def quote(value: object, limit: int = QUOTE_LIMIT) -> str:
    """A value as a message shows it: repr for text (control characters escaped), clipped."""
    if isinstance(value, int) and abs(value) >= 10**limit:  # str() of a 5,000-digit int raises
        return f"a number of about {int(value.bit_length() * 0.30103):,} digits"
    text = repr(value) if isinstance(value, str) else str(value)
    if len(text) <= limit:
        return text
    if isinstance(value, str):
        return clip(text[:-1], limit - 1) + text[-1]  # keep the closing quote
    return clip(text, limit)


def is_control(char: str) -> bool:
    """A character that moves the cursor or breaks a line: C0/C1 controls, DEL, U+2028/U+2029."""
    return unicodedata.category(char) in ("Cc", "Zl", "Zp")


def first_control(text: str, *, allow: str = "") -> str | None:
    """The first control character of `text` not in `allow`, or None."""
    return next((c for c in text if is_control(c) and c not in allow), None)


def printable(text: str) -> str:
    """`text` on one line: control characters shown as escapes (`\\n`, `\\x1b`)."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def clip_quoted(message: str) -> str:
    """Every single-quoted value in `message` cut to QUOTE_LIMIT characters."""
    return _QUOTED.sub(lambda m: "'" + clip(m.group(1)) + "'", message)
