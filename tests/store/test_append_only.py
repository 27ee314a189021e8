"""The tables that hold facts refuse every statement that would change or
remove a row, in the database itself, on any connection whatever its pragmas:
neither a bug nor someone with the file and a sqlite3 shell can rewrite
history. SQLite fires no DELETE trigger when REPLACE resolves a conflict
(unless recursive_triggers is on), so the schema also refuses a new row
whose key already exists."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

from signoff.store.ports import UnitOfWork
from signoff.store.sqlite import schema
from signoff.store.sqlite.schema import migrate
from signoff.store.sqlite.store import SqliteStore

from .factories import (
    decision,
    event,
    proposal,
    proposal_event,
    runtime_entry,
    vote,
)

pytestmark = pytest.mark.anyio

# Spelled out, not imported from the schema: dropping one there must fail here.
APPEND_ONLY = (
    "events", "proposal_events", "decisions", "votes", "runtime_log",
)
# What an attacker's connection might have set; none of it may matter.
PRAGMAS = {
    "default": (),
    "recursive triggers": ("PRAGMA recursive_triggers = ON",),
}
REWRITES = ("insert or replace", "replace into", "upsert")


def one_of_each(uow: UnitOfWork) -> None:
    uow.events.append([event("case-1", 1)])
    uow.proposals.add(proposal())
    uow.proposals.add_event(proposal_event("prop-1", 1))
    uow.proposals.add_decision(decision())
    uow.proposals.add_vote(vote())
    uow.runtime.append([runtime_entry("e-1", run_id="run-1")])


@pytest.fixture
async def filled(tmp_path: Path) -> Path:
    path = tmp_path / "signoff.db"
    async with SqliteStore(path) as store:
        await store.write(one_of_each)
    return path


@pytest.fixture(params=list(PRAGMAS))
def attacker(request: pytest.FixtureRequest, filled: Path) -> Iterator[sqlite3.Connection]:
    """A plain sqlite3 connection on the real file, as someone with a shell has."""
    with closing(sqlite3.connect(filled, isolation_level=None)) as conn:
        for pragma in PRAGMAS[request.param]:
            conn.execute(pragma)
        yield conn


def rows(conn: sqlite3.Connection, table: str) -> list[Any]:
    return conn.execute(f"SELECT rowid, * FROM {table} ORDER BY rowid").fetchall()


def unique_keys(conn: sqlite3.Connection, table: str) -> list[tuple[str, ...]]:
    """Every key the table keeps unique: its primary key and UNIQUE indexes,
    read from the database so that a key added later is attacked too."""
    info = conn.execute(f"PRAGMA table_info({table})").fetchall()
    primary = tuple(name for _, name, *_, pk in sorted(info, key=lambda c: c[5]) if pk)
    keys = [primary] if primary else []
    for _, index, unique, origin, _ in conn.execute(f"PRAGMA index_list({table})"):
        if unique and origin != "pk":
            keys.append(tuple(c[2] for c in conn.execute(f"PRAGMA index_info({index})")))
    return keys


def schema_keys() -> list[tuple[str, tuple[str, ...]]]:
    """(table, key) for every unique key of every append-only table, read
    from the schema as migrated."""
    with closing(sqlite3.connect(":memory:", isolation_level=None)) as conn:
        migrate(conn)
        return [(table, key) for table in APPEND_ONLY for key in unique_keys(conn, table)]


def forged(value: Any) -> Any:
    return value + 1000 if isinstance(value, int) else f"forged {value}"


def rewrite(
    conn: sqlite3.Connection, table: str, key: tuple[str, ...], how: str
) -> tuple[str, list[Any]]:
    """A statement that writes a row with the existing row's `key` and every
    other column changed, so it collides on that key alone."""
    columns = [c[1] for c in conn.execute(f"PRAGMA table_info({table})")]
    existing = dict(zip(columns, conn.execute(f"SELECT * FROM {table}").fetchone(), strict=True))
    values = [existing[c] if c in key else forged(existing[c]) for c in columns]
    names, marks = ", ".join(columns), ", ".join("?" * len(columns))
    verb = {"insert or replace": "INSERT OR REPLACE INTO", "replace into": "REPLACE INTO",
            "upsert": "INSERT INTO"}[how]
    sql = f"{verb} {table} ({names}) VALUES ({marks})"
    if how == "upsert":
        changed = ", ".join(f"{c} = excluded.{c}" for c in columns if c not in key)
        sql += f" ON CONFLICT ({', '.join(key)}) DO UPDATE SET {changed}"
    return sql, values


@pytest.mark.parametrize("statement", ["UPDATE {table} SET tenant_id = 'forged'",
                                       "DELETE FROM {table}"])
@pytest.mark.parametrize("table", APPEND_ONLY)
async def test_a_row_cannot_be_updated_or_deleted(
    attacker: sqlite3.Connection, table: str, statement: str
) -> None:
    before = rows(attacker, table)
    assert len(before) == 1
    with pytest.raises(sqlite3.IntegrityError, match=f"{table} is append-only"):
        attacker.execute(statement.format(table=table))
    assert rows(attacker, table) == before


@pytest.mark.parametrize("how", REWRITES)
@pytest.mark.parametrize(
    ("table", "key"), [pytest.param(t, k, id=f"{t}({'+'.join(k)})") for t, k in schema_keys()]
)
async def test_a_row_cannot_be_rewritten_through_any_of_its_keys(
    attacker: sqlite3.Connection, table: str, key: tuple[str, ...], how: str
) -> None:
    before = rows(attacker, table)
    sql, values = rewrite(attacker, table, key, how)
    with pytest.raises(sqlite3.IntegrityError, match=f"{table} is append-only"):
        attacker.execute(sql, values)
    assert rows(attacker, table) == before


async def test_every_append_only_table_has_its_keys_attacked(filled: Path) -> None:
    with closing(sqlite3.connect(filled)) as conn:
        assert {t: len(unique_keys(conn, t)) for t in APPEND_ONLY} == {
            "events": 3, "proposal_events": 1, "decisions": 1, "votes": 2, "runtime_log": 1,
        }


async def test_current_state_tables_stay_writable(filled: Path) -> None:
    """Proposals (current state) change status; only their history is frozen."""
    with closing(sqlite3.connect(filled, isolation_level=None)) as conn:
        conn.execute("UPDATE proposals SET status = 'approved'")
        assert conn.execute("SELECT status FROM proposals").fetchall() == [("approved",)]


async def test_a_database_from_before_the_guards_gets_them_on_opening(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "signoff.db"
    with monkeypatch.context() as old_release:
        old_release.setattr(schema, "MIGRATIONS", schema.MIGRATIONS[:2])
        async with SqliteStore(path) as store:
            # Only what V2's tables hold as this release writes them.
            await store.write(lambda uow: uow.proposals.add_vote(vote()))
    with closing(sqlite3.connect(path, isolation_level=None)) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 2
        before = rows(conn, "votes")

    async with SqliteStore(path) as store:
        assert [v.verdict for v in await store.read(lambda uow: uow.proposals.votes("prop-1"))] == [
            "approve"
        ]
    with closing(sqlite3.connect(path, isolation_level=None)) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == len(schema.MIGRATIONS)
        sql, values = rewrite(conn, "votes", ("proposal_id", "voter_id"), "insert or replace")
        with pytest.raises(sqlite3.IntegrityError, match="votes is append-only"):
            conn.execute(sql, values)
        assert rows(conn, "votes") == before
