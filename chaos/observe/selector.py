"""Metric selectors for scraped text: `name`, `name{label="v"}`, `{label=~"a|b"}` (=, !=, =~, !~)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from chaos.errors import ChaosError, ExitCode

_SELECTOR = re.compile(r"^\s*([A-Za-z_:][A-Za-z0-9_:]*)?\s*(?:\{(.*)\})?\s*$", re.DOTALL)
_MATCHER = re.compile(r'\s*([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"\s*(?:,|$)')


class SelectorError(ChaosError):
    """A metric selector could not be parsed."""

    exit_code = ExitCode.USAGE


@dataclass(frozen=True, slots=True)
class Matcher:
    label: str
    op: str
    value: str

    def matches(self, labels: Mapping[str, str]) -> bool:
        have = labels.get(self.label, "")
        if self.op == "=":
            return have == self.value
        if self.op == "!=":
            return have != self.value
        found = re.fullmatch(self.value, have) is not None
        return found if self.op == "=~" else not found


@dataclass(frozen=True, slots=True)
class Selector:
    name: str | None
    matchers: tuple[Matcher, ...]
    text: str

    def matches(self, name: str, labels: Mapping[str, str]) -> bool:
        if self.name is not None and name != self.name:
            return False
        return all(m.matches(labels if m.label != "__name__" else {"__name__": name})
                   for m in self.matchers)


def parse_selector(text: str) -> Selector:
    m = _SELECTOR.match(text)
    if m is None or (m.group(1) is None and m.group(2) is None):
        raise SelectorError(f"cannot parse metric selector {text!r}")
    matchers: list[Matcher] = []
    body = (m.group(2) or "").strip()
    pos = 0
    while pos < len(body):
        mm = _MATCHER.match(body, pos)
        if mm is None:
            raise SelectorError(f"cannot parse label matcher at {body[pos:]!r} in {text!r}")
        value = mm.group(3).replace('\\"', '"').replace("\\\\", "\\")
        if mm.group(2) in ("=~", "!~"):
            try:
                re.compile(value)
            except re.error as exc:
                raise SelectorError(f"bad regular expression {value!r} in {text!r}: {exc}") from None
        matchers.append(Matcher(mm.group(1), mm.group(2), value))
        pos = mm.end()
    if m.group(1) is None and not matchers:
        raise SelectorError(f"selector {text!r} selects nothing")
    return Selector(m.group(1), tuple(matchers), text)
