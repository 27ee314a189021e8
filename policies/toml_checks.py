"""Typed reads of TOML values that report, rather than raise, what is wrong.

The policy, principals and scenario loaders all validate hand-written TOML. They
share this reporter so that every problem carries the same parts (file, line,
entry, key, expectation) and so a file with five mistakes reports five problems.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Collection, Mapping, Sequence
from datetime import timedelta
from typing import Any, TypeVar

from signoff.policies.errors import LoadError, Problem
from signoff.policies.lines import LineIndex

E = TypeVar("E", bound=LoadError)

_TOML_POSITION = re.compile(r"\(at line (\d+), column \d+\)")
_DURATION = re.compile(r"^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")


def describe(value: object) -> str:
    """A short, safe rendering of a TOML value for an error message."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        text = repr(value)
        return text if len(text) <= 60 else text[:57] + "...'"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "a table"
    return f"a {type(value).__name__}"


def read_toml(text: str, source: str, error: type[E]) -> dict[str, Any]:
    """Parse `text`, turning a syntax error into `error` with its line."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        position = _TOML_POSITION.search(message)
        line = int(position.group(1)) if position else None
        detail = _TOML_POSITION.sub("", message).strip()
        raise error([Problem(source, line, None, None, "valid TOML", detail)]) from None


class Reporter:
    """Collects problems for one file. Paths are LineIndex paths; `key` is what
    the message shows (relative to the entry when there is one)."""

    def __init__(self, source: str, text: str, entry_kind: str = "rule") -> None:
        self.source = source
        self.lines = LineIndex(text)
        self.entry_kind = entry_kind
        self.problems: list[Problem] = []

    def add(
        self,
        path: Sequence[str],
        entry: str | None,
        key: str | None,
        expected: str,
        got: str | None = None,
    ) -> None:
        problem = Problem(self.source, self.lines.find(path), entry, key, expected, got,
                          self.entry_kind)
        self.problems.append(problem)

    def raise_if_any(self, error: type[LoadError]) -> None:
        if self.problems:
            ordered = sorted(self.problems, key=lambda p: (p.line is None, p.line or 0))
            raise error(ordered)

    # Typed readers. Each returns the value, or None after reporting a problem.

    def keys(self, table: Mapping[str, Any], allowed: Collection[str], path: Sequence[str],
             entry: str | None, prefix: str = "") -> None:
        expected = "one of " + ", ".join(allowed)
        for key in table:
            if key not in allowed:
                self.add((*path, key), entry, prefix + key, f"a known key ({expected})",
                         "an unknown key")

    def string(self, table: Mapping[str, Any], key: str, path: Sequence[str],
               entry: str | None, *, required: bool, prefix: str = "") -> str | None:
        if key not in table:
            if required:
                self.add(path, entry, prefix + key, "this key to be present", "nothing")
            return None
        value = table[key]
        if not isinstance(value, str) or not value.strip():
            self.add((*path, key), entry, prefix + key, "a non-empty string", describe(value))
            return None
        return value

    def strings(self, table: Mapping[str, Any], key: str, path: Sequence[str],
                entry: str | None, *, allow_empty: bool = False, prefix: str = "",
                choices: Collection[str] | None = None) -> tuple[str, ...] | None:
        value = table[key]
        what = "an array of strings" if allow_empty else "a non-empty array of strings"
        if choices is not None:
            what += " from " + ", ".join(choices)
        ok = isinstance(value, list) and (allow_empty or value) and all(
            isinstance(v, str) and v.strip() and (choices is None or v in choices) for v in value
        )
        if not ok:
            self.add((*path, key), entry, prefix + key, what, _describe_list(value, choices))
            return None
        return tuple(dict.fromkeys(value))

    def integer(self, table: Mapping[str, Any], key: str, path: Sequence[str],
                entry: str | None, *, minimum: int, prefix: str = "") -> int | None:
        value = table[key]
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            self.add((*path, key), entry, prefix + key, f"an integer >= {minimum}",
                     describe(value))
            return None
        return value

    def boolean(self, table: Mapping[str, Any], key: str, path: Sequence[str],
                entry: str | None, *, prefix: str = "") -> bool | None:
        value = table[key]
        if not isinstance(value, bool):
            self.add((*path, key), entry, prefix + key, "true or false", describe(value))
            return None
        return value

    def table(self, value: object, path: Sequence[str], entry: str | None,
              key: str) -> dict[str, Any] | None:
        if not isinstance(value, dict):
            self.add(path, entry, key, "a table", describe(value))
            return None
        return value

    def duration(self, table: Mapping[str, Any], key: str, path: Sequence[str],
                 entry: str | None, *, prefix: str = "") -> timedelta | None:
        value = table[key]
        parsed = parse_duration(value) if isinstance(value, str) else None
        if parsed is None:
            self.add((*path, key), entry, prefix + key,
                     'a positive duration like "30m", "24h", "7d" or "1h30m"', describe(value))
        return parsed


def _describe_list(value: object, choices: Collection[str] | None) -> str:
    if not isinstance(value, list):
        return describe(value)
    if not value:
        return "an empty array"
    bad = next(
        (v for v in value
         if not isinstance(v, str) or not v.strip() or (choices is not None and v not in choices)),
        value[0],
    )
    return f"an array containing {describe(bad)}"


def parse_duration(text: str) -> timedelta | None:
    """`"24h"`, `"30m"`, `"7d"`, `"1h30m"`, `"90s"` → timedelta; None if malformed or zero."""
    match = _DURATION.fullmatch(text.strip())
    if not match or not text.strip():
        return None
    days, hours, minutes, seconds = (int(g) if g else 0 for g in match.groups())
    span = timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)
    return span if span > timedelta(0) else None
