"""A sqlite3 connection whose errors come out as store errors.

Every repository talks to SQLite through `Sql`, so no sqlite3 exception
crosses the ports: a job can catch `DuplicateRecord` without knowing which
database it runs on. A unique key already taken becomes `DuplicateRecord`
(whether SQLite's own constraint or the schema's append-only guard refused
it), a write inside a read `WriteInRead`, any other broken rule
`ConstraintViolation`, and everything else `StorageFailure`.
"""

from __future__ import annotations

import contextlib
import re
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from signoff.store.errors import (
    ConstraintViolation,
    DuplicateRecord,
    StorageFailure,
    StoreError,
    WriteInRead,
)

Args = Sequence[Any]
_NATIVE_UNIQUE = re.compile(r"UNIQUE constraint failed: (\w+)\.(.+)")
# The message of the schema's guards against REPLACE (schema V3, V7).
_GUARD_UNIQUE = re.compile(r"(\w+)(?: is append-only)?: a row with this (.+) exists")
_UNIQUE_CODES = {"SQLITE_CONSTRAINT_UNIQUE", "SQLITE_CONSTRAINT_PRIMARYKEY"}


def translate(exc: sqlite3.Error, *, read_only: bool = False) -> StoreError:
    """The store error that says what `exc` means."""
    message = str(exc)
    code = getattr(exc, "sqlite_errorname", "") or type(exc).__name__
    if isinstance(exc, sqlite3.IntegrityError):
        if guard := _GUARD_UNIQUE.fullmatch(message):
            return DuplicateRecord(guard.group(1), guard.group(2).split(", "))
        if code in _UNIQUE_CODES:
            if native := _NATIVE_UNIQUE.fullmatch(message):
                fields = [c.split(".")[-1] for c in native.group(2).split(", ")]
                return DuplicateRecord(native.group(1), fields)
            return DuplicateRecord("record", ["key"])  # an index on expressions
        return ConstraintViolation(message)
    if read_only and code == "SQLITE_READONLY":
        return WriteInRead()
    return StorageFailure(code)


@contextlib.contextmanager
def translated(*, read_only: bool = False) -> Iterator[None]:
    """Raise what a sqlite3 error inside the block means, as a store error."""
    try:
        yield
    except sqlite3.Error as exc:
        raise translate(exc, read_only=read_only) from exc


class Sql:
    """The statements of one unit of work, on its connection."""

    def __init__(self, conn: sqlite3.Connection, *, read_only: bool = False) -> None:
        self._conn = conn
        self.read_only = read_only

    def guard(self) -> contextlib.AbstractContextManager[None]:
        """For a cursor walked step by step: its errors come out translated."""
        return translated(read_only=self.read_only)

    # Plain try/except rather than `with self.guard()`: a command runs some
    # twenty statements inside the writer, and a generator context manager
    # per statement was a measurable part of its Python (issue 13).
    def run(self, sql: str, args: Args = ()) -> sqlite3.Cursor:
        try:
            return self._conn.execute(sql, args)
        except sqlite3.Error as exc:
            raise translate(exc, read_only=self.read_only) from exc

    def many(self, sql: str, rows: Iterable[Args]) -> sqlite3.Cursor:
        try:
            return self._conn.executemany(sql, rows)
        except sqlite3.Error as exc:
            raise translate(exc, read_only=self.read_only) from exc

    def one(self, sql: str, args: Args = ()) -> Any:
        """The first row, or None."""
        try:
            return self._conn.execute(sql, args).fetchone()
        except sqlite3.Error as exc:
            raise translate(exc, read_only=self.read_only) from exc

    def all(self, sql: str, args: Args = ()) -> list[Any]:
        try:
            return self._conn.execute(sql, args).fetchall()
        except sqlite3.Error as exc:
            raise translate(exc, read_only=self.read_only) from exc
