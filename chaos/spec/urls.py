"""Typed text values of spec files that go into HTTP requests: URLs, URL paths, header names."""

from __future__ import annotations

import re
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import PlainValidator, WithJsonSchema

from chaos.spec.text import first_control, quote

MAX_URL_LENGTH = 2048


def url_problem(text: str) -> str | None:
    """Why `text` is not an http(s) URL a request can go to, or None."""
    if len(text) > MAX_URL_LENGTH:
        return f"must be at most {MAX_URL_LENGTH} characters, not {len(text):,}"
    if not text.startswith(("http://", "https://")):
        return f"must be an http:// or https:// URL, not {_shown_url(text)}"
    if first_control(text) is not None or any(c.isspace() for c in text):
        return f"must not contain spaces or control characters, not {_shown_url(text)}"
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018  # a port out of range raises here
    except ValueError:
        return f"must be an http:// or https:// URL with a valid host and port, not {_shown_url(text)}"
    if not parts.hostname:
        return f"must be an http:// or https:// URL with a host, not {_shown_url(text)}"
    return None


def _shown_url(text: str) -> str:
    """The URL as a message quotes it: its userinfo (a password, perhaps) masked."""
    return quote(re.sub(r"^([a-zA-Z][a-zA-Z0-9+.-]*://)[^/?#]*@", r"\1***@", text))


def parse_url(value: object) -> str:
    """An http(s) URL, or text starting with `${VAR}` that run resolves (and checks) later."""
    if not isinstance(value, str):
        raise ValueError(f"must be an http:// or https:// URL, not {quote(value)}")
    if "${" in value:  # the host and port are checked once resolved (chaos.spec.variables)
        problem = _text_problem(value, MAX_URL_LENGTH) or (
            None if value.startswith(("http://", "https://", "${"))
            else f"must be an http:// or https:// URL, not {_shown_url(value)}")
    else:
        problem = url_problem(value)
    if problem is not None:
        raise ValueError(problem)
    return value


def parse_url_path(value: object) -> str:
    """The path part of a URL (`/health`): starts with '/', no spaces or control characters."""
    if not isinstance(value, str) or not value.startswith(("/", "${")):
        raise ValueError(f"must be a URL path starting with '/', not {quote(value)}")
    problem = _text_problem(value, MAX_URL_LENGTH)
    if problem is not None:
        raise ValueError(problem)
    return value


_HEADER_NAME = re.compile(r"[A-Za-z0-9!#$%&'*+.^_`|~-]+")


def parse_header_name(value: object) -> str:
    """An HTTP header name (RFC 9110 token): letters, digits and !#$%&'*+-.^_`|~."""
    if not isinstance(value, str) or not _HEADER_NAME.fullmatch(value) or len(value) > 256:
        raise ValueError(f"must be an HTTP header name (letters, digits and !#$%&'*+-.^_`|~), "
                         f"not {quote(value)}")
    return value


def _text_problem(text: str, limit: int) -> str | None:
    if len(text) > limit:
        return f"must be at most {limit} characters, not {len(text):,}"
    if first_control(text) is not None or any(c.isspace() for c in text):
        return f"must not contain spaces or control characters, not {quote(text)}"
    return None


Url = Annotated[
    str,
    PlainValidator(parse_url),
    WithJsonSchema({"type": "string", "pattern": r"^(https?://|\$\{)\S+$", "maxLength": MAX_URL_LENGTH,
                    "description": "an http:// or https:// URL (`${VAR}` allowed)"}),
]
HeaderName = Annotated[
    str,
    PlainValidator(parse_header_name),
    WithJsonSchema({"type": "string", "pattern": _HEADER_NAME.pattern, "maxLength": 256,
                    "description": "an HTTP header name"}),
]
UrlPath = Annotated[
    str,
    PlainValidator(parse_url_path),
    WithJsonSchema({"type": "string", "pattern": r"^(/|\$\{)\S*$", "maxLength": MAX_URL_LENGTH,
                    "description": "a URL path such as /health"}),
]


def join_url(base: str, path: str) -> str:
    """`base` (the target's base URL, perhaps with a path prefix and a query such as Azure
    OpenAI's `?api-version=...` or a signed `?sig=...`) with `path` appended to its path; the
    base's query goes after it, joined with the path's own query if it has one."""
    head, sep, query = base.partition("?")
    query = query.partition("#")[0]
    head = head.partition("#")[0].rstrip("/")
    if not sep or not query:
        return head + path
    path_part, psep, path_query = path.partition("?")
    return f"{head}{path_part}?{path_query}&{query}" if psep and path_query else f"{head}{path_part}?{query}"
