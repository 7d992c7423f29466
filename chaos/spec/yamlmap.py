"""YAML reading that keeps positions: compose the node tree once, construct data from it,
and map a field path (a pydantic error location) back to the node's line and column."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import yaml

from chaos.errors import SpecIssue
from chaos.spec.yamlbudget import MAX_FILE_BYTES, BoundedLoader, Refused, join_path

Loc = tuple[str | int, ...]

# Keys whose value selects a union member; pydantic puts that value into error locations.
_DISCRIMINATORS = ("scenario", "kind")


@dataclass(frozen=True)
class Document:
    """A parsed YAML document: plain data plus the node tree it was built from."""

    path: str
    data: Any
    root: yaml.Node | None


@dataclass(frozen=True)
class Located:
    line: int
    column: int
    field: str  # display path, e.g. "faults[0].for"
    consumed: int  # how many loc parts matched nodes of the document


def parse_yaml(text: str, path: str) -> tuple[Document | None, list[SpecIssue]]:
    """Parse one YAML document within the limits (size, depth, alias expansion); syntax errors
    and refusals become issues with the parser's position."""
    if len(text) > MAX_FILE_BYTES:
        return None, [SpecIssue(path, 1, 1, "", f"the document is larger than {MAX_FILE_BYTES:,} "
                                                "characters (the limit)")]
    try:
        loader = BoundedLoader(text)
    except yaml.reader.ReaderError as exc:
        return None, [_reader_issue(path, text, exc)]
    try:
        root = loader.get_single_node()
        # Duplicate keys are judged before construction, which prepends merged keys.
        issues = _duplicate_keys(path, root) if root is not None else []
        data = loader.construct_document(root) if root is not None else None
    except yaml.reader.ReaderError as exc:
        return None, [_reader_issue(path, text, exc)]
    except Refused as exc:
        return None, [_refused_issue(path, exc)]
    except yaml.MarkedYAMLError as exc:
        return None, [_syntax_issue(path, exc)]
    except yaml.YAMLError as exc:
        return None, [SpecIssue(path, 1, 1, "", f"YAML error: {_one_line(str(exc))}")]
    finally:
        loader.dispose()
    return Document(path, data, root), issues


def _refused_issue(path: str, exc: Refused) -> SpecIssue:
    mark = exc.problem_mark
    line = mark.line + 1 if mark is not None else 1
    column = mark.column + 1 if mark is not None else 1
    return SpecIssue(path, line, column, exc.field, _one_line(exc.problem or "refused"))


def _reader_issue(path: str, text: str, exc: yaml.reader.ReaderError) -> SpecIssue:
    """A character YAML does not accept (control characters, invalid encodings)."""
    before = text[: max(exc.position, 0)]
    line = before.count("\n") + 1
    column = len(before) - (before.rfind("\n") + 1) + 1
    char = exc.character if isinstance(exc.character, str) else repr(exc.character)
    return SpecIssue(path, line, column, "",
                     f"YAML syntax error: character {char!r} is not allowed in YAML ({exc.reason})")


def _syntax_issue(path: str, exc: yaml.MarkedYAMLError) -> SpecIssue:
    mark = exc.problem_mark or exc.context_mark
    problem = exc.problem or exc.context or "invalid YAML"
    context = f" ({exc.context})" if exc.context and exc.problem else ""
    line = mark.line + 1 if mark is not None else 1
    column = mark.column + 1 if mark is not None else 1
    return SpecIssue(path, line, column, "", _one_line(f"YAML syntax error: {problem}{context}"))


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _duplicate_keys(path: str, root: yaml.Node) -> list[SpecIssue]:
    issues: list[SpecIssue] = []
    seen_nodes: set[int] = set()
    stack: list[tuple[yaml.Node, str]] = [(root, "")]
    while stack:
        node, where = stack.pop()
        if id(node) in seen_nodes:  # anchors/aliases share nodes
            continue
        seen_nodes.add(id(node))
        if isinstance(node, yaml.MappingNode):
            first: dict[str, yaml.Node] = {}
            for key, value in node.value:
                name = key.value if isinstance(key, yaml.ScalarNode) else None
                if name is not None and name in first and name != "<<":
                    issues.append(SpecIssue(
                        path, key.start_mark.line + 1, key.start_mark.column + 1,
                        join_path(where, name),
                        f"duplicate key '{name}' (first given on line "
                        f"{first[name].start_mark.line + 1})",
                    ))
                elif name is not None:
                    first[name] = key
                stack.append((value, join_path(where, name if name is not None else "?")))
        elif isinstance(node, yaml.SequenceNode):
            stack.extend((item, f"{where}[{i}]") for i, item in enumerate(node.value))
    return sorted(issues, key=lambda i: (i.line or 0, i.column or 0))


def _mapping_get(node: yaml.MappingNode, key: str) -> tuple[yaml.Node, yaml.Node] | None:
    found = None
    for k, v in node.value:
        if isinstance(k, yaml.ScalarNode) and k.value == key:
            found = (k, v)  # the last one wins, as in construction
    return found


def locate(root: yaml.Node | None, loc: Sequence[str | int], *, at_key: bool = False) -> Located:
    """Find the node a location names; stop at the deepest node that exists.

    Collections are reported at the key that owns them (`load:`), scalars at the value;
    `at_key` reports the key itself (unknown keys). Union tags in `loc` are skipped.
    """
    if root is None:
        return Located(1, 1, ".".join(str(p) for p in loc), 0)
    node: yaml.Node = root
    owner_key: yaml.Node | None = None
    field = ""
    consumed = 0
    for i, part in enumerate(loc):
        if part == "[key]" and owner_key is not None:
            node, owner_key, consumed = owner_key, None, i + 1
            break
        if isinstance(node, yaml.MappingNode) and isinstance(part, str):
            pair = _mapping_get(node, part)
            if pair is not None:
                owner_key, node = pair
                field = join_path(field, part)
                consumed = i + 1
                continue
            if any(_is_tag(node, d, part) for d in _DISCRIMINATORS):
                consumed = i + 1
                continue
            field = join_path(field, part)  # a missing key: located at its mapping
            break
        if isinstance(node, yaml.SequenceNode) and isinstance(part, int) and 0 <= part < len(node.value):
            node, owner_key = node.value[part], None
            field = join_path(field, part)
            consumed = i + 1
            continue
        break
    mark_node = node
    if owner_key is not None and (at_key or isinstance(node, yaml.MappingNode | yaml.SequenceNode)):
        mark_node = owner_key
    mark = mark_node.start_mark
    return Located(mark.line + 1, mark.column + 1, field, consumed)


def _is_tag(node: yaml.MappingNode, discriminator: str, part: str) -> bool:
    pair = _mapping_get(node, discriminator)
    return pair is not None and isinstance(pair[1], yaml.ScalarNode) and pair[1].value == part
