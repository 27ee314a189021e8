"""Reads the `[upstream.tools]` table of a gateway file: which tools pass
through as reads, which become proposals, which may be re-invoked, and which
read previews which proposal. A tool listed as both read and propose is an
error wherever the file alone can show it; pin checks the rest on real names.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Collection

from signoff.policies.toml_checks import Reporter, describe
from signoff.server.gateway.model import ToolLists

TOOL_KEYS = ("read", "propose", "idempotent", "preview")
# MCP tool names (letters, digits, _ - . /), plus the glob characters.
TOOL_ENTRY = re.compile(r"^[A-Za-z0-9_./\-*?\[\]!]{1,128}$")
GLOB_CHARS = frozenset("*?[")

KeyPath = tuple[str, ...]


def tools_from(raw: object, path: KeyPath, entry: str, report: Reporter) -> ToolLists | None:
    """The lists of one upstream (`path` is its tools table), or None after
    reporting why not."""
    if raw is None:
        report.add(path[:-1], entry, "tools",
                   "an [upstream.tools] table with read or propose", "nothing")
        return None
    table = report.table(raw, path, entry, "tools")
    if table is None:
        return None
    pre = "tools."
    report.keys(table, TOOL_KEYS, path, entry, pre)
    before = len(report.problems)
    lists: dict[str, tuple[str, ...]] = {}
    for key in ("read", "propose", "idempotent"):
        found = report.strings(table, key, path, entry, allow_empty=True, prefix=pre) \
            if key in table else ()
        lists[key] = _entries(found or (), (*path, key), entry, pre + key, report)
    read, propose, idempotent = lists["read"], lists["propose"], lists["idempotent"]
    if not read and not propose and len(report.problems) == before:
        report.add(path, entry, pre + "read", "at least one tool in read or propose",
                   "none (a tool in neither list is not exposed)")
    _overlaps(read, propose, (*path, "propose"), entry, report)
    for name in idempotent:
        if not _covered(name, propose):
            report.add((*path, "idempotent"), entry, pre + "idempotent",
                       "only tools listed in propose (reads are never re-invoked)", repr(name))
    preview = _preview(table.get("preview"), read, propose, (*path, "preview"), entry, report)
    return ToolLists(read=read, propose=propose, idempotent=idempotent, preview=preview)


def _entries(found: tuple[str, ...], path: KeyPath, entry: str, key: str,
             report: Reporter) -> tuple[str, ...]:
    bad = [name for name in found if not TOOL_ENTRY.match(name)]
    for name in bad:
        report.add(path, entry, key, "tool names or glob patterns (letters, digits, _ - . / "
                   "and * ? [ ])", repr(name))
    return tuple(name for name in found if name not in bad)


def _covered(name: str, patterns: Collection[str]) -> bool:
    """Whether `name` (a tool or a pattern) falls under one of `patterns`."""
    return any(name == p or fnmatch.fnmatchcase(name, p) for p in patterns)


def _is_glob(name: str) -> bool:
    return any(c in GLOB_CHARS for c in name)


def _overlaps(read: tuple[str, ...], propose: tuple[str, ...], path: KeyPath, entry: str,
              report: Reporter) -> None:
    """A tool both read and proposed is ambiguous. Names against patterns are
    checked here; two patterns that overlap are checked at pin, on real names."""
    for name in propose:
        if name in read or (not _is_glob(name) and _covered(name, read)):
            report.add(path, entry, "tools.propose", "each tool in only one of read and "
                       "propose", f"{name!r} in both")
    for name in read:
        if name not in propose and not _is_glob(name) and _covered(name, propose):
            report.add(path, entry, "tools.propose", "each tool in only one of read and "
                       "propose", f"{name!r} in both")


def _preview(raw: object, read: tuple[str, ...], propose: tuple[str, ...], path: KeyPath,
             entry: str, report: Reporter) -> dict[str, str]:
    if raw is None:
        return {}
    table = report.table(raw, path, entry, "tools.preview")
    if table is None:
        return {}
    found: dict[str, str] = {}
    for tool, target in table.items():
        where, key = (*path, tool), f"tools.preview.{tool}"
        if not _covered(tool, propose):
            report.add(where, entry, key, "a tool listed in propose", repr(tool))
        elif not isinstance(target, str) or not TOOL_ENTRY.match(target) or _is_glob(target):
            report.add(where, entry, key, "the name of one read tool", describe(target))
        elif not _covered(target, read) or _covered(target, propose):
            report.add(where, entry, key, "a tool listed in read", repr(target))
        else:
            found[tool] = target
    return found
