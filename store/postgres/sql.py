"""A psycopg connection whose errors come out as store errors.

Every repository talks to PostgreSQL through `PgSql`, so no psycopg exception
crosses the ports: a unique key already taken becomes `DuplicateRecord`, a
write inside a read `WriteInRead`, any other broken rule (the append-only
triggers among them) `ConstraintViolation`, and everything else
`StorageFailure`.

Unlike SQLite, PostgreSQL aborts the whole transaction when a statement fails.
A job may catch `DuplicateRecord` and go on, so the writes that can meet a
taken key never fail: single rows are inserted with ON CONFLICT DO NOTHING
and the taken key is looked up (`insert_once`), several rows go in under a
savepoint. A job that goes on after any other failure finds its transaction
aborted, and `commit` refuses it rather than let PostgreSQL turn the COMMIT
into a silent rollback.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

import psycopg
from psycopg import errors
from psycopg.pq import TransactionStatus
from psycopg_pool import PoolTimeout

from signoff.store.errors import (
    ConstraintViolation,
    DuplicateRecord,
    StorageFailure,
    StoreError,
    WriteInRead,
)
from signoff.store.postgres.connection import Connection

Args = Sequence[Any] | Mapping[str, Any]
Row = tuple[Any, ...]
_KEY = re.compile(r"Key \((.+?)\)=")


def translate(exc: BaseException, *, read_only: bool = False) -> StoreError:
    """The store error that says what a psycopg (or pool) error means."""
    if isinstance(exc, PoolTimeout):
        return StorageFailure("no connection free in time")
    if not isinstance(exc, psycopg.Error):
        return StorageFailure(type(exc).__name__)
    diag = exc.diag
    if isinstance(exc, errors.UniqueViolation):
        found = _KEY.search(diag.message_detail or "")
        fields = [c.strip().strip('"') for c in found.group(1).split(",")] if found else ["key"]
        return DuplicateRecord(diag.table_name or "record", fields)
    if isinstance(exc, errors.ReadOnlySqlTransaction) and read_only:
        return WriteInRead()
    if isinstance(exc, psycopg.IntegrityError | psycopg.DataError):
        return ConstraintViolation(diag.message_primary or str(exc))
    return StorageFailure(exc.sqlstate or type(exc).__name__)


@contextlib.contextmanager
def translated(*, read_only: bool = False) -> Iterator[None]:
    """Raise what a psycopg error inside the block means, as a store error."""
    try:
        yield
    except (psycopg.Error, PoolTimeout) as exc:
        raise translate(exc, read_only=read_only) from exc


class PgSql:
    """The statements of one unit of work, on its connection."""

    def __init__(self, conn: Connection, *, read_only: bool = False) -> None:
        self._conn = conn
        self.read_only = read_only

    def guard(self) -> contextlib.AbstractContextManager[None]:
        return translated(read_only=self.read_only)

    def run(self, query: str, args: Args | None = None) -> psycopg.Cursor[Row]:
        with self.guard():
            return self._conn.execute(query, args)

    def many(self, query: str, rows: Iterable[Args]) -> None:
        with self.guard(), self._conn.cursor() as cur:
            cur.executemany(query, rows)

    def one(self, query: str, args: Args | None = None) -> Row | None:
        """The first row, or None."""
        with self.guard():
            return self._conn.execute(query, args).fetchone()

    def all(self, query: str, args: Args | None = None) -> list[Row]:
        with self.guard():
            return self._conn.execute(query, args).fetchall()

    def refuse_in_read(self) -> None:
        """For a write that would otherwise find a conflict before its first
        statement: in a read it is `WriteInRead` whatever the data."""
        if self.read_only:
            raise WriteInRead()

    def insert_once(
        self, query: str, args: Args, *, table: str, keys: Sequence[Sequence[str]],
        values: Mapping[str, Any],
    ) -> None:
        """Run `query`, an INSERT ... ON CONFLICT DO NOTHING of one row; when
        it inserted nothing raise `DuplicateRecord` naming the first of `keys`
        whose `values` are taken. The transaction stays usable."""
        if self.run(query, args).rowcount == 1:
            return
        for key in keys:
            where = " AND ".join(f"{column} = %s" for column in key)
            # Table and column names are the callers' constants, never input.
            if self.one(f"SELECT 1 FROM {table} WHERE {where}",  # noqa: S608
                        [values[c] for c in key]):
                raise DuplicateRecord(table, key)
        raise DuplicateRecord(table, keys[0])

    @contextlib.contextmanager
    def savepoint(self, name: str) -> Iterator[None]:
        """Undo the block's statements if it raises; the transaction goes on."""
        self.run(f"SAVEPOINT {name}")
        try:
            yield
        except BaseException:
            with contextlib.suppress(StoreError):  # a dead connection: raise the cause
                self.run(f"ROLLBACK TO SAVEPOINT {name}")
                self.run(f"RELEASE SAVEPOINT {name}")
            raise
        self.run(f"RELEASE SAVEPOINT {name}")

    @property
    def failed(self) -> bool:
        """Whether a statement failed and left the transaction aborted."""
        return self._conn.info.transaction_status == TransactionStatus.INERROR
