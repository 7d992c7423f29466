"""Issue lists as the user reads them: sorted, one line each, values clipped, repeats summarised."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence

from chaos.errors import SpecIssue
from chaos.spec.text import clip, clip_quoted, printable
from chaos.spec.yamlmap import Loc

SAME_KIND_LINES = 20  # issues of one kind shown before the rest are summarised
TOTAL_LINES = 100  # issues shown per file at most
MESSAGE_LIMIT = 400  # characters of one message at most
_FIELD_LIMIT = 160
_QUOTED_OR_NUMBER = re.compile(r"'[^']*'|\d+")


def finish(issues: Iterable[SpecIssue], *, more: Mapping[SpecIssue, int] | None = None) -> list[SpecIssue]:
    """Unique issues in file order, each on one short line; after SAME_KIND_LINES of one
    kind (same message but for quoted values and numbers, same field but for indices) the
    rest become one summary line, and a file shows at most TOTAL_LINES issues.

    `more` counts issues of the kind of a given issue that were never built (see `trim`)."""
    unique = sorted(dict.fromkeys(_one_line(i) for i in issues), key=_place)
    extra: dict[tuple[str, str], int] = {}
    for issue, count in (more or {}).items():
        key = _kind(_one_line(issue))
        extra[key] = extra.get(key, 0) + count
    shown: list[SpecIssue] = []
    held: dict[tuple[str, str], list[SpecIssue]] = {}
    for issue in unique:
        group = held.setdefault(_kind(issue), [])
        group.append(issue)
        if len(group) <= SAME_KIND_LINES:
            shown.append(issue)
    for key, group in held.items():
        total = len(group) + extra.get(key, 0)
        if total > SAME_KIND_LINES:
            first = group[min(SAME_KIND_LINES, len(group) - 1)]
            shown.append(SpecIssue(first.path, first.line, first.column, first.field,
                                   f"... and {total - SAME_KIND_LINES:,} more like "
                                   f"{clip(group[0].message, 60)!r} (from here on)"))
    shown.sort(key=_place)
    if len(shown) > TOTAL_LINES:
        rest = shown[TOTAL_LINES - 1]
        shown = [*shown[: TOTAL_LINES - 1],
                 SpecIssue(rest.path, rest.line, rest.column, "",
                           f"... and {len(shown) - TOTAL_LINES + 1:,} more issues (from here on)")]
    return shown


def trim(problems: Sequence[tuple[Loc, str]]) -> tuple[list[tuple[Loc, str]], list[int]]:
    """The problems worth locating: the first SAME_KIND_LINES + 1 of each kind (same message
    but for quoted values and numbers, same location but for indices), and for each kept
    problem how many more of its kind were dropped (locating 500,000 overlaps takes seconds)."""
    kept: list[tuple[Loc, str]] = []
    dropped: list[int] = []
    counts: dict[tuple[tuple[str, ...], str], int] = {}
    last: dict[tuple[tuple[str, ...], str], int] = {}  # the last kept problem of each kind
    for loc, message in problems:
        key = (tuple(p if isinstance(p, str) else "#" for p in loc), _QUOTED_OR_NUMBER.sub("#", message))
        counts[key] = counts.get(key, 0) + 1
        if counts[key] > SAME_KIND_LINES + 1:
            dropped[last[key]] += 1
            continue
        last[key] = len(kept)
        kept.append((loc, message))
        dropped.append(0)
    return kept, dropped


def _place(issue: SpecIssue) -> tuple[str, int, int]:
    return issue.path, issue.line or 0, issue.column or 0


def _kind(issue: SpecIssue) -> tuple[str, str]:
    return re.sub(r"\[\d+\]", "[]", issue.field), _QUOTED_OR_NUMBER.sub("#", issue.message)


def _one_line(issue: SpecIssue) -> SpecIssue:
    """The issue with control characters escaped, quoted values and long texts clipped."""
    field = clip(printable(issue.field), _FIELD_LIMIT)
    message = clip(clip_quoted(printable(issue.message)), MESSAGE_LIMIT)
    path = printable(issue.path)
    if (path, field, message) == (issue.path, issue.field, issue.message):
        return issue
    return SpecIssue(path, issue.line, issue.column, field, message)
