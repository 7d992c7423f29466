"""The budget of a YAML document: a SafeLoader that refuses, while composing and before
anything is expanded, documents too deep, too large or expanding too far through aliases."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

import yaml

# Limits of what a spec file may hold (docs/spec-limits.md). A drill or environment is a few
# hundred values; these leave room for large generated files while keeping every command fast
# and its memory small, whatever aliases, merge keys or nesting the file uses.
MAX_FILE_BYTES = 1_000_000
MAX_DEPTH = 64  # nested collections
MAX_NODES = 100_000  # values, with every alias and merge key expanded
MAX_EXPANDED_CHARS = 2_000_000  # characters of scalars, with every alias expanded


class Refused(yaml.MarkedYAMLError):
    """The document exceeds a limit, or holds a value no model could take (a 5,000-digit number)."""

    def __init__(self, problem: str, mark: Any, field: str = "") -> None:
        super().__init__(None, None, problem, mark)
        self.field = field  # display path of the value, e.g. "load.streams"


class BoundedLoader(yaml.SafeLoader):
    """SafeLoader that refuses, while composing (before anything is expanded), nesting deeper
    than MAX_DEPTH and documents whose aliases and merge keys expand past MAX_NODES nodes or
    MAX_EXPANDED_CHARS characters of scalars."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._aliases = 0  # aliases composed so far
        self._path: list[str | int] = []  # where the node being composed is
        # Invariant: every finished node's expanded size, as (nodes, characters of scalars),
        # and the path it was first written at.
        self._sizes: dict[int, tuple[int, int]] = {}
        self._paths: dict[int, str] = {}

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        event: Any = self.peek_event()  # type: ignore[no-untyped-call]  # untyped in types-PyYAML
        start: Any = event.start_mark
        part: str | int = "[key]" if index is None and isinstance(parent, yaml.MappingNode) else (
            index if isinstance(index, int) else
            index.value if isinstance(index, yaml.ScalarNode) else "?")
        here = display_path([*self._path, part] if parent is not None else self._path)
        if isinstance(event, yaml.AliasEvent):
            target = self.anchors.get(event.anchor)
            if target is not None and id(target) not in self._sizes:
                raise Refused(f"alias '*{event.anchor}' refers to the value that contains it", start, here)
            self._aliases += 1
            return super().compose_node(parent, index)
        if len(self._path) >= MAX_DEPTH:
            raise Refused(f"the document nests deeper than {MAX_DEPTH} levels (the limit)", start,
                          display_path(self._path[:3]) + "...")
        aliases_before = self._aliases
        if parent is not None:
            self._path.append(part)
        try:
            node = super().compose_node(parent, index)
        finally:
            if parent is not None:
                self._path.pop()
        if node is not None:
            self._paths[id(node)] = here
            self._account(node, aliased=self._aliases > aliases_before)
        return node

    def _account(self, node: yaml.Node, *, aliased: bool) -> None:
        """Record the node's size with every alias below it expanded (merge keys are aliases
        or inline mappings, so this bounds what construction will copy too)."""
        if isinstance(node, yaml.ScalarNode):
            self._sizes[id(node)] = (1, len(node.value))
            return
        children: list[yaml.Node] = (
            [n for pair in node.value for n in pair] if isinstance(node, yaml.MappingNode) else node.value
        )
        nodes, chars = 1, 0
        for child in children:
            n, c = self._sizes[id(child)]
            nodes, chars = nodes + n, chars + c
        if nodes > MAX_NODES or chars > MAX_EXPANDED_CHARS:
            amount = (f"{MAX_NODES:,} values" if nodes > MAX_NODES
                      else f"{MAX_EXPANDED_CHARS:,} characters")
            what = "aliases and merge keys expand this value" if aliased else "the document grows"
            raise Refused(f"{what} past {amount} (the limit)", node.start_mark, self._paths[id(node)])
        self._sizes[id(node)] = (nodes, chars)

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep)
        except yaml.YAMLError:
            raise
        except (ValueError, OverflowError, TypeError) as exc:  # int('9' * 5000), a bad date
            text = str(exc)
            reason = (f"a number may have at most {sys.get_int_max_str_digits():,} digits"
                      if "Exceeds the limit" in text else f"cannot read this value: {_one_line(text)}")
            raise Refused(reason, node.start_mark, self._paths.get(id(node), "")) from None


def display_path(path: Sequence[str | int]) -> str:
    """`('faults', 0, 'at')` -> 'faults[0].at' (keys of keys are left out)."""
    out = ""
    for part in path:
        if part != "[key]":
            out = join_path(out, part)
    return out


def join_path(where: str, part: str | int) -> str:
    if isinstance(part, int):
        return f"{where}[{part}]"
    return f"{where}.{part}" if where else part


def _one_line(text: str) -> str:
    return " ".join(text.split())
