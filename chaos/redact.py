"""The run's secrets, and the one redactor that takes them out of any text leaving the process.

Known secrets: each value a `${VAR}` took from the process environment (`expand_env` calls
`register_variable`; a `${VAR:-default}` default is written in the file, so it is none, nor
is a short value, a number, a boolean, a host, a path or a URL without userinfo or query,
unless the variable's name says secret); the auth token, URL passwords, and the query
parameters and headers named secret by the environment or by their name
(`register_environment`). Text is redacted by value: each secret, plain or JSON-, URL-, HTML-
or base64-encoded, becomes `<redacted:NAME>`, and a URL's userinfo `***`. The fault journal
gets `${VAR}` back instead (`for_journal`), so a replay resolves it again. Callers: the
bundle's write primitives, the journal, and stdout/stderr (chaos.console).
"""

from __future__ import annotations

import base64
import html
import json
import re
import threading
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, quote_plus, unquote, urlsplit

if TYPE_CHECKING:
    from chaos.spec.environment import Environment

REDACTED = "<redacted>"
USERINFO_MASK = "***"
MIN_SECRET_LENGTH = 4  # shorter values would redact ordinary words
_MIN_BASE64_FORM = 6  # a shorter slice of base64 would match by chance

# Names that make a variable, query parameter, header or spec key a secret whatever its value.
_SECRET_NAME = re.compile(r"token|secret|passw|pwd|api[_-]?key|apikey|authorization|credential|"
                          r"signature|^sig$|_sig$|cookie|private[_-]?key|session", re.I)
_SECRET_KEY = re.compile(r"(token|secret|password|passwd|api[_-]?key|authorization|credential)", re.I)
_REFERENCE = re.compile(r"^\$\{[A-Za-z_][A-Za-z0-9_]*(:-.*)?\}$")
_WHOLE_REFERENCE = re.compile(r"\$\{[A-Za-z_][A-Za-z0-9_]*\}")
# Values that are addresses or settings, not credentials: a number, a boolean, a host[:port]
# (a dotted lower-case name, an IP address, localhost), a file path, a URL with only a host.
_PLAIN = re.compile(r"[-+]?\d+(\.\d+)?|true|false|yes|no|on|off|null|none", re.I)
_HOST = re.compile(r"(localhost|\[[0-9a-f:.]+\]|\d{1,3}(\.\d{1,3}){3}|"
                   r"([a-z0-9]([a-z0-9-]*[a-z0-9])?\.)+[a-z]{2,63})(:\d{1,5})?")
_PATH = re.compile(r"[/~][^\s]*")
_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")
_USERINFO = re.compile(r"(?<=://)[^\s/?#@\"'<>\\]+@")


@dataclass(frozen=True, slots=True)
class Secret:
    """One secret value; `reference` is the `${VAR}` it is the whole value of, if any."""

    value: str
    name: str
    reference: str | None = None


class Redactor:
    """Known secrets and the text they are taken out of (thread-safe; grows during a run)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._secrets: dict[str, Secret] = {}
        self._forms: dict[str, tuple[str, str]] = {}  # form -> (output label, journal text)
        self._pattern: re.Pattern[str] | None = None

    def add(self, value: str, name: str, *, reference: str | None = None) -> None:
        """Know `value` as a secret called `name` (shorter than MIN_SECRET_LENGTH: ignored)."""
        if len(value) < MIN_SECRET_LENGTH or value in self._secrets:
            return
        secret = Secret(value, name, reference)
        label = f"<redacted:{name}>"
        with self._lock:
            self._secrets[value] = secret
            for form, plain in _forms(value):
                journal = reference if reference is not None and plain else label
                self._forms.setdefault(form, (label, journal))
            ordered = sorted(self._forms, key=len, reverse=True)  # the longest form wins
            self._pattern = re.compile("|".join(map(re.escape, ordered)))

    def secrets(self) -> list[Secret]:
        return list(self._secrets.values())

    def text(self, text: str) -> str:
        """`text` with every userinfo masked and every known secret form replaced by its label."""
        text = _USERINFO.sub(_output_userinfo, text) if "://" in text else text
        pattern = self._pattern
        if pattern is None:
            return text
        return pattern.sub(lambda m: self._forms[m.group(0)][0], text)

    def value(self, value: Any) -> Any:
        """A JSON-like value with `text` applied to every string, keys included."""
        return _walk(value, self.text)

    def journal_text(self, text: str) -> str:
        """`text` for the fault journal: a variable's whole value becomes its `${VAR}` again,
        other secrets their label, and a URL password that is not a `${VAR}` `***`."""
        pattern = self._pattern
        if pattern is not None:
            text = pattern.sub(lambda m: self._forms[m.group(0)][1], text)
        return _USERINFO.sub(_journal_userinfo, text) if "://" in text else text

    def for_journal(self, value: Any) -> Any:
        return _walk(value, self.journal_text)


def _output_userinfo(match: re.Match[str]) -> str:
    user, colon, password = match.group(0)[:-1].partition(":")
    if _WHOLE_REFERENCE.fullmatch(password if colon else user):
        return match.group(0)  # as written in a spec file (inputs.json): `user:${VAR}@`
    return USERINFO_MASK + "@"


def _journal_userinfo(match: re.Match[str]) -> str:
    user, colon, password = match.group(0)[:-1].partition(":")
    if not colon or _WHOLE_REFERENCE.fullmatch(password):
        return match.group(0)  # a user name alone (ssh://deploy@host), or `${VAR}`: replayable
    return f"{user}:{USERINFO_MASK}@"


def _walk(value: Any, text: Any) -> Any:
    if isinstance(value, str):
        return text(value)
    if isinstance(value, Mapping):
        return {text(str(k)): _walk(v, text) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_walk(v, text) for v in value]
    return value


def _forms(value: str) -> Iterator[tuple[str, bool]]:
    """Every way `value` may be written out, and whether that way is the value itself."""
    json_escaped = json.dumps(value, ensure_ascii=False)[1:-1]
    yield value, True
    yield json_escaped, True
    yield json.dumps(value)[1:-1], False
    for form in (quote(value, safe=""), quote(value), quote_plus(value), html.escape(value),
                 html.escape(json_escaped), html.escape(value, quote=False)):
        yield form, False
    raw = value.encode()
    for encode in (base64.b64encode, base64.urlsafe_b64encode):
        whole = encode(raw).decode()
        yield whole, False
        yield whole.rstrip("="), False
        # Inside a longer base64 text (`user:password` in a Basic header) the value starts at
        # one of three bit offsets; only the characters it alone decides are fixed.
        for shift in range(3):
            encoded = encode(b"\0" * shift + raw).decode()
            core = encoded[-(-8 * shift // 6):(8 * (shift + len(raw))) // 6]
            if len(core) >= _MIN_BASE64_FORM:
                yield core, False


# The process's secrets: one registry, because stdout, stderr, loggers and every bundle file
# must all know them (the watchdog and `chaos cleanup` fill their own from the journal).
SECRETS = Redactor()


def redact_text(text: str) -> str:
    return SECRETS.text(text)


def redact_value(value: Any) -> Any:
    return SECRETS.value(value)


def worth_hiding(name: str, value: str) -> bool:
    """Whether a variable's value is a secret: any value of a secret-named variable; else
    one that is not short, a number, a boolean, a host, a file path, or a URL without
    userinfo or query (an address: its path is not a credential)."""
    if len(value) < MIN_SECRET_LENGTH:
        return False
    if _SECRET_NAME.search(name):
        return True
    if _PLAIN.fullmatch(value) or _HOST.fullmatch(value) or _PATH.fullmatch(value):
        return False
    if _URL.match(value):
        parts = urlsplit(value)
        return bool(parts.username or parts.password or parts.query)
    return True


def register_variable(name: str, value: str) -> None:
    """A `${name}` resolved to `value` from the process environment (defaults are not secrets:
    they are written in the file)."""
    if _URL.match(value):
        _register_userinfo(value, name)
    if not worth_hiding(name, value):
        return
    SECRETS.add(value, name, reference=f"${{{name}}}")
    if "{subject}" in value:  # a token template: what is sent is each literal piece
        for piece in value.split("{subject}"):
            SECRETS.add(piece, name)


def register_url(url: str, *, label: str, secret_params: Iterable[str] = ()) -> None:
    """The password of `url`, and the values of its secret-named query parameters."""
    _register_userinfo(url, label)
    try:
        query = urlsplit(url).query
    except ValueError:
        return
    configured = {p.lower() for p in secret_params}
    for param, raw in _query_pairs(query):
        if param.lower() in configured or _SECRET_NAME.search(param):
            SECRETS.add(raw, param)
            SECRETS.add(unquote(raw), param)


def _query_pairs(query: str) -> list[tuple[str, str]]:
    """(name, value as written) of each query parameter."""
    pairs = [part.partition("=") for part in query.split("&") if part]
    return [(unquote(name), value) for name, _, value in pairs if value]


def _register_userinfo(url: str, label: str) -> None:
    try:
        parts = urlsplit(url)
    except ValueError:
        return
    if parts.password:
        SECRETS.add(parts.password, label)
        SECRETS.add(unquote(parts.password), label)


def register_environment(env: Environment) -> None:
    """Know the environment's secrets: each URL's password and secret query parameters, the
    auth token, and every header named secret (by `secrets.headers` or by its name). Skipped:
    a value whose `${VAR}` is unset (validate reports it), and one that its `${VAR:-default}`
    defaults alone make (the testbed's `tb-{subject}`: written in the file, no credential)."""
    from chaos.errors import SpecError
    from chaos.spec.envvars import expand_env
    from chaos.spec.variables import environment_fields

    def defaults_only(written: str) -> str | None:
        try:
            return expand_env(written, {})
        except SpecError:
            return None

    names = env.secrets
    header_names = {h.lower() for h in names.headers}
    fields = list(environment_fields(env))
    fields += [(("topology", "regions", r, "health_url"), region.health_url, "url")
               for r, region in env.topology.regions.items() if region.health_url is not None]
    grafana = env.dashboards.grafana if env.dashboards is not None else None
    if grafana is not None:
        fields += [(("dashboards", "grafana", "url"), grafana.url, "url"),
                   (("dashboards", "grafana", "token"), grafana.token, "header")]
    for loc, written, shape in fields:
        try:
            value = expand_env(written, where=".".join(map(str, loc)))
        except SpecError:
            continue
        if "${" in written and value == defaults_only(written):
            continue
        label = _label(written, ".".join(map(str, loc)))
        if shape == "url":
            register_url(value, label=label, secret_params=names.query_params)
        elif loc[-1] == "token" or (shape == "header" and (
                str(loc[-1]).lower() in header_names or _SECRET_NAME.search(str(loc[-1])))):
            SECRETS.add(value, label)
            for piece in value.split("{subject}"):
                SECRETS.add(piece, label)


def register_request(token_template: str, headers: Iterable[tuple[str, str]]) -> None:
    """What a load worker process sends that is secret (it has no environment file): the
    token and every header named secret."""
    for piece in (token_template, *token_template.split("{subject}")):
        SECRETS.add(piece, "target.auth.token")
    for name, value in headers:
        if _SECRET_NAME.search(name):
            SECRETS.add(value, f"target.headers.{name}")


def _label(written: str, where: str) -> str:
    """A secret's name in output: the variable it came from, else the field."""
    found = re.search(r"\$\{([A-Za-z_][A-Za-z0-9_]*)", written)
    return found.group(1) if found else where


def redact(value: Any, *, secrets: Iterable[str] = ()) -> Any:
    """A copy of `value` (JSON-like: a spec as written) where secret-named keys hold only
    `${VAR}` references or `<redacted>`, and every known secret is redacted wherever it is."""
    known = [s for s in secrets if s and len(s) >= MIN_SECRET_LENGTH]
    return SECRETS.value(_redact_keys(value, known, secret_key=False))


def _redact_keys(value: Any, known: list[str], *, secret_key: bool) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _redact_keys(v, known, secret_key=bool(_SECRET_KEY.search(str(k))))
                for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_redact_keys(v, known, secret_key=secret_key) for v in value]
    if isinstance(value, str):
        if secret_key and not _REFERENCE.match(value):
            return REDACTED
        for secret in known:
            value = value.replace(secret, REDACTED)
        return value
    return value
