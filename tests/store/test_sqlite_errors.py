"""The SQLite adapter says what a sqlite3 error means, as a store error, so
that none crosses the ports."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest

from signoff.store.errors import (
    ConstraintViolation,
    DuplicateRecord,
    StorageFailure,
    StoreError,
    WriteInRead,
)
from signoff.store.sqlite.sql import Sql
from signoff.store.sqlite.store import SqliteStore


@pytest.fixture
def conn() -> Iterator[sqlite3.Connection]:
    with closing(sqlite3.connect(":memory:", isolation_level=None)) as conn:
        conn.executescript("""
            CREATE TABLE t (id TEXT PRIMARY KEY, a TEXT NOT NULL, b TEXT, UNIQUE (a, b));
            CREATE TRIGGER t_frozen BEFORE UPDATE ON t
            BEGIN SELECT RAISE(ABORT, 't is append-only'); END;
            CREATE TRIGGER t_guard BEFORE INSERT ON t WHEN NEW.b = 'guarded'
            BEGIN SELECT RAISE(ABORT, 't is append-only: a row with this a, b exists'); END;
            INSERT INTO t VALUES ('1', 'x', 'y');
        """)
        yield conn


def test_a_taken_primary_key_is_a_duplicate_record_naming_its_fields(
    conn: sqlite3.Connection,
) -> None:
    with pytest.raises(DuplicateRecord) as caught:
        Sql(conn).run("INSERT INTO t VALUES ('1', 'other', 'row')")
    assert (caught.value.record, caught.value.key) == ("t", ("id",))
    assert isinstance(caught.value.__cause__, sqlite3.IntegrityError)


def test_a_taken_unique_key_is_a_duplicate_record_naming_its_fields(
    conn: sqlite3.Connection,
) -> None:
    with pytest.raises(DuplicateRecord) as caught:
        Sql(conn).many("INSERT INTO t VALUES (?, ?, ?)", [("2", "x", "y")])
    assert (caught.value.record, caught.value.key) == ("t", ("a", "b"))


def test_the_schema_guard_against_replace_is_a_duplicate_record(conn: sqlite3.Connection) -> None:
    with pytest.raises(DuplicateRecord) as caught:
        Sql(conn).run("INSERT OR REPLACE INTO t VALUES ('1', 'x', 'guarded')")
    assert (caught.value.record, caught.value.key) == ("t", ("a", "b"))


@pytest.mark.parametrize("statement", [
    "UPDATE t SET a = 'forged'",
    "INSERT INTO t (id, a) VALUES ('3', NULL)",
])
def test_any_other_broken_rule_is_a_constraint_violation(
    conn: sqlite3.Connection, statement: str
) -> None:
    with pytest.raises(ConstraintViolation):
        Sql(conn).run(statement)
    assert conn.execute("SELECT * FROM t").fetchall() == [("1", "x", "y")]


def test_a_write_on_a_read_only_connection_is_write_in_read(conn: sqlite3.Connection) -> None:
    conn.execute("PRAGMA query_only = ON")
    with pytest.raises(WriteInRead):
        Sql(conn, read_only=True).run("INSERT INTO t VALUES ('2', 'p', 'q')")
    # In a write job the same refusal means the file is not writable.
    with pytest.raises(StorageFailure, match="SQLITE_READONLY"):
        Sql(conn).run("INSERT INTO t VALUES ('2', 'p', 'q')")


def test_a_broken_statement_is_a_storage_failure(conn: sqlite3.Connection) -> None:
    with pytest.raises(StorageFailure):
        Sql(conn).all("SELECT * FROM no_such_table")


def test_a_cursor_walked_under_the_guard_fails_as_a_store_error(conn: sqlite3.Connection) -> None:
    def walk() -> None:
        with Sql(conn).guard():
            for _ in conn.execute("SELECT * FROM t"):
                conn.execute("SELECT nonsense(")

    with pytest.raises(StorageFailure):
        walk()


@pytest.mark.anyio
async def test_a_file_that_cannot_be_opened_is_a_storage_failure(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path)  # a directory, not a database file
    with pytest.raises(StorageFailure) as caught:
        await store.open()
    assert isinstance(caught.value, StoreError)
    assert not isinstance(caught.value, sqlite3.Error)
    await store.close()
