"""Text no store can hold: a NUL character.

PostgreSQL's text refuses NUL outright, and SQLite would keep an id no one
can type. Arguments that carry one are refused at the edge, on every store
alike, as the validation error they are; `nul_at` says where.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence


def nul_at(value: object, path: str = "") -> str | None:
    """The dotted path of the first string (or key) in `value` holding a NUL
    character, or None when there is none."""
    if isinstance(value, str):
        return (path or "(arguments)") if "\x00" in value else None
    if isinstance(value, Mapping):
        for key, item in value.items():
            here = f"{path}.{key}" if path else str(key)
            if isinstance(key, str) and "\x00" in key:
                return here
            if (found := nul_at(item, here)) is not None:
                return found
        return None
    if isinstance(value, Sequence) and not isinstance(value, bytes | bytearray):
        for n, item in enumerate(value):
            if (found := nul_at(item, f"{path}.{n}" if path else str(n))) is not None:
                return found
    return None
