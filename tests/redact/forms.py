"""Every form a secret could be found in on disk or on a terminal, for searching output."""

from __future__ import annotations

import base64
import html
import json
from urllib.parse import quote, quote_plus


def secret_forms(secret: str) -> set[str]:
    """The secret plain, JSON-, HTML- and URL-encoded, and base64-encoded (standard and URL
    alphabets) whole and as it appears inside a longer base64 text at each of the three bit
    offsets (the characters only the secret decides)."""
    forms = {secret, json.dumps(secret)[1:-1], html.escape(secret), quote(secret, safe=""),
             quote(secret), quote_plus(secret)}
    raw = secret.encode()
    for encode in (base64.b64encode, base64.urlsafe_b64encode):
        forms.add(encode(raw).decode().rstrip("="))
        for shift in range(3):
            text = encode(b"\xa5" * shift + raw).decode()
            first = (8 * shift + 5) // 6  # the first character whose 6 bits are all the secret's
            last = 8 * (shift + len(raw)) // 6
            forms.add(text[first:last])
    return forms


def leaks(text: str, secret: str) -> list[str]:
    """The forms of `secret` found in `text` (empty: none)."""
    return sorted(f for f in secret_forms(secret) if f in text)
