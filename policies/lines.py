"""Finds the line of a table or key in TOML text, for error messages.

`tomllib` returns values without positions, so a load error would otherwise name
only a key. This scanner walks the text once, follows table headers (`[x]`,
`[[rule]]`, `[rule.approvers]`) and records where each key is assigned. It is a
best-effort locator, not a parser: when it cannot find a key it falls back to the
enclosing table's header, and to no line at all only if that is missing too.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

_ARRAY_HEADER = re.compile(r"^\s*\[\[\s*([^\]]+?)\s*\]\]")
_TABLE_HEADER = re.compile(r"^\s*\[\s*([^\]]+?)\s*\]")
_PART = r"""(?:[A-Za-z0-9_\-]+|"[^"]*"|'[^']*')"""
_KEY = re.compile(rf"^\s*({_PART}(?:\s*\.\s*{_PART})*)\s*=")
_INLINE_KEY = r"(?:^|[{,\s])%s\s*="
_STRINGS = re.compile(r""""(?:[^"\\]|\\.)*"|'[^']*'""")

Path = tuple[str, ...]


def _split_dotted(text: str) -> Path:
    parts = re.findall(r"""[A-Za-z0-9_\-]+|"[^"]*"|'[^']*'""", text)
    return tuple(p.strip("\"'") for p in parts)


def _bracket_balance(raw: str) -> int:
    code = _STRINGS.sub("", raw).split("#", 1)[0]
    return code.count("[") + code.count("{") - code.count("]") - code.count("}")


class LineIndex:
    """Lines of tables and keys. Array-of-tables entries are addressed by index:
    the path of key `effect` in the third `[[rule]]` is ("rule", "2", "effect")."""

    def __init__(self, text: str) -> None:
        self._lines: dict[Path, int] = {}
        self._text_lines = text.splitlines()
        self._scan()

    def _scan(self) -> None:
        counts: dict[Path, int] = {}
        table: Path = ()
        in_multiline: str | None = None
        depth = 0  # open brackets of a value that spans lines
        for number, raw in enumerate(self._text_lines, start=1):
            if in_multiline is not None:
                if raw.count(in_multiline) % 2 == 1:
                    in_multiline = None
                continue
            if depth > 0:
                depth = max(0, depth + _bracket_balance(raw))
                continue
            array = _ARRAY_HEADER.match(raw)
            header = None if array else _TABLE_HEADER.match(raw)
            if array:
                name = self._resolve(_split_dotted(array.group(1)), counts)
                index = counts.get(name, 0)
                counts[name] = index + 1
                table = (*name, str(index))
                self._lines.setdefault(table, number)
                self._lines.setdefault(name, number)
            elif header:
                table = self._resolve(_split_dotted(header.group(1)), counts)
                self._lines.setdefault(table, number)
            else:
                key = _KEY.match(raw)
                if key:
                    self._lines.setdefault((*table, *_split_dotted(key.group(1))), number)
                    depth = max(0, _bracket_balance(raw[key.end() :]))
            for quote in ('"""', "'''"):
                if raw.count(quote) % 2 == 1:
                    in_multiline = quote

    @staticmethod
    def _resolve(name: Path, counts: dict[Path, int]) -> Path:
        """Maps `rule.approvers` inside the latest `[[rule]]` to ("rule", "N", "approvers")."""
        resolved: Path = ()
        for part in name:
            resolved = (*resolved, part)
            if resolved in counts and len(resolved) < len(name):
                resolved = (*resolved, str(counts[resolved] - 1))
        return resolved

    def find(self, path: Sequence[str]) -> int | None:
        """The line of `path`, else of its nearest enclosing key or table."""
        full = tuple(path)
        for end in range(len(full), 0, -1):
            line = self._lines.get(full[:end])
            if line is not None:
                if end < len(full):
                    return self._inline(line, full[end]) or line
                return line
        return None

    def _inline(self, start: int, key: str) -> int | None:
        """A key inside an inline table or array that spans lines after `start`."""
        pattern = re.compile(_INLINE_KEY % re.escape(key))
        for offset, raw in enumerate(self._text_lines[start - 1 : start + 9]):
            if pattern.search(raw):
                return start + offset
            if offset and _TABLE_HEADER.match(raw):
                break
        return None
