"""`signoff db copy`: move a SQLite database into an empty PostgreSQL store.

The source is read in one snapshot (a read transaction, so a process still
writing to it cannot tear the copy) after it is brought to the newest SQLite
schema, as opening it anywhere would. The target is migrated, then the whole
copy is ONE PostgreSQL transaction: its tables are locked, found empty, each
table is streamed in with COPY, and the identity columns are moved past the
copied rows so later appends continue the numbering. A crash or an error
anywhere leaves the target as empty as it was.

What is checked afterwards (the chain, the counts) needs the store opened as
the server opens it, so it is the caller's (`signoff.server.ops.db_copy`);
`row_counts` gives it the target's side.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Mapping
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from psycopg import errors, sql

from signoff.store.copy_tables import INDEXES, NAMES, TABLES, Table
from signoff.store.errors import SchemaTooNew, StoreError
from signoff.store.postgres.connection import Connection, connect
from signoff.store.postgres.schema import migrate as migrate_postgres
from signoff.store.postgres.sql import translated
from signoff.store.postgres.url import schema_of
from signoff.store.sqlite.connection import connect as connect_sqlite
from signoff.store.sqlite.schema import migrate as migrate_sqlite
from signoff.store.sqlite.sql import translated as sqlite_translated

BATCH = 1000  # rows read from SQLite at a time, and between progress reports
LOCK_TIMEOUT = "10s"  # how long to wait for a process using the target


class CopyRefused(StoreError):
    """The copy did not start, and nothing was written to the target."""


class Progress(Protocol):
    def planned(self, counts: Mapping[str, int]) -> None:
        """The rows each table holds in the source, before any is copied."""

    def copied(self, table: str, rows: int) -> None:
        """`rows` more rows of `table` were written."""


@dataclass(frozen=True)
class Copied:
    """What was copied: rows per table, and the source's head of the log."""

    counts: dict[str, int]
    head: int
    head_hash: str


def copy_sqlite_to_postgres(source: Path, url: str, progress: Progress) -> Copied:
    """Copy the SQLite database at `source` into the empty store at `url`.
    Raises CopyRefused (nothing written) or another StoreError."""
    with _snapshot(source) as reader:
        counts = {t.name: _count(reader, t.name) for t in TABLES}
        head = reader.execute(
            "SELECT position, hash FROM events ORDER BY position DESC LIMIT 1").fetchone()
        with translated(), closing(connect(url)) as target:
            try:
                migrate_postgres(target, schema_of(url))
            except SchemaTooNew as exc:
                raise CopyRefused(f"the target: {exc}") from exc
            with target.transaction():
                _claim_empty(target)
                progress.planned(counts)
                for table in TABLES:
                    _copy_table(reader, target, table, progress)
                    _continue_identity(target, table)
    return Copied(counts=counts, head=int(head[0]) if head else 0,
                  head_hash=str(head[1]) if head else "")


def row_counts(url: str) -> dict[str, int]:
    """The rows each copied table holds in the store at `url`."""
    with translated(), closing(connect(url)) as conn:
        return {name: _count(conn, name) for name in NAMES}


@contextmanager
def _snapshot(source: Path) -> Iterator[sqlite3.Connection]:
    """A read transaction on the source, at the newest schema."""
    if not source.is_file():  # sqlite3 would create it
        raise CopyRefused(f"no database at {source}")
    with sqlite_translated(), closing(_open_source(source)) as conn:
        try:
            migrate_sqlite(conn)
        except SchemaTooNew as exc:
            raise CopyRefused(f"{source}: {exc}; copy it with that signoff") from exc
        _refuse_unknown_tables(conn, source)
        conn.execute("BEGIN")
        try:
            yield conn
        finally:
            conn.execute("ROLLBACK")


def _open_source(source: Path) -> sqlite3.Connection:
    """A connection to the source, refused unless it is a signoff database."""
    try:
        conn = connect_sqlite(str(source))
    except sqlite3.DatabaseError as exc:
        _refuse_if_not_a_database(exc, source)
        raise
    try:
        tables = conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
        if int(conn.execute("PRAGMA user_version").fetchone()[0]) == 0 and tables == 0:
            raise CopyRefused(f"{source} is not a signoff database (it holds no tables)")
    except BaseException as exc:
        conn.close()
        if isinstance(exc, sqlite3.DatabaseError):
            _refuse_if_not_a_database(exc, source)
        raise
    return conn


def _refuse_if_not_a_database(exc: sqlite3.DatabaseError, source: Path) -> None:
    if getattr(exc, "sqlite_errorname", "") == "SQLITE_NOTADB":
        raise CopyRefused(f"{source} is not a SQLite database") from exc


def _refuse_unknown_tables(conn: sqlite3.Connection, source: Path) -> None:
    """A table this copier does not know would be left behind: refuse."""
    found = {str(r[0]) for r in conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")}
    if unknown := sorted(found - set(NAMES) - set(INDEXES)):
        raise CopyRefused(f"{source} holds tables this signoff cannot copy: {', '.join(unknown)}")


def _claim_empty(target: Connection) -> None:
    """Lock every table against writers until the copy commits, then refuse
    a target that holds any row: a copy never merges two histories."""
    target.execute(sql.SQL("SET LOCAL lock_timeout = {}").format(sql.Literal(LOCK_TIMEOUT)))
    tables = sql.SQL(", ").join(sql.Identifier(n) for n in NAMES)
    try:
        target.execute(sql.SQL("LOCK TABLE {} IN EXCLUSIVE MODE").format(tables))
    except errors.LockNotAvailable as exc:
        raise CopyRefused(f"the target is in use (its tables stayed locked for {LOCK_TIMEOUT}); "
                          "stop what uses it and try again") from exc
    held = [n for n in NAMES if _holds_rows(target, n)]
    if held:
        raise CopyRefused(f"the target is not empty ({', '.join(held)} hold rows); "
                          "copy into an empty database or schema, e.g. a new one named in the "
                          "URL's options=-csearch_path=...")


def _copy_table(reader: sqlite3.Connection, target: Connection, table: Table,
                progress: Progress) -> None:
    statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
        sql.Identifier(table.name), sql.SQL(", ").join(sql.Identifier(c) for c in table.columns))
    rows = reader.execute(table.select())
    with target.cursor() as cur, cur.copy(statement) as copy:
        while batch := rows.fetchmany(BATCH):
            for found in batch:
                copy.write_row(table.row(tuple(found)))
            progress.copied(table.name, len(batch))


def _continue_identity(target: Connection, table: Table) -> None:
    """COPY writes identity columns as given and leaves their sequence where
    it was: set it to the highest copied value, so the next row follows it."""
    if table.identity is None:
        return
    target.execute(sql.SQL(
        "SELECT setval(pg_get_serial_sequence({table}, {column}), max({ident})) FROM {name} "
        "HAVING max({ident}) IS NOT NULL").format(
        table=sql.Literal(table.name), column=sql.Literal(table.identity),
        ident=sql.Identifier(table.identity), name=sql.Identifier(table.name)))


def _holds_rows(conn: Connection, name: str) -> bool:
    row = conn.execute(sql.SQL("SELECT EXISTS (SELECT 1 FROM {})").format(
        sql.Identifier(name))).fetchone()
    return bool(row and row[0])


def _count(conn: sqlite3.Connection | Connection, name: str) -> int:
    if isinstance(conn, sqlite3.Connection):
        row = conn.execute(f"SELECT count(*) FROM {name}").fetchone()  # noqa: S608 - our names
    else:
        row = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(
            sql.Identifier(name))).fetchone()
    return int(row[0]) if row else 0
