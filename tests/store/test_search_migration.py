"""Schema V8 on a database written before it: its documents stay as they
were, in every generation, and are searchable once a put gives them a text;
the full-text index still names the right rows after a VACUUM."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

from signoff.store.ports import UnitOfWork
from signoff.store.sqlite import schema
from signoff.store.sqlite.store import SqliteStore

pytestmark = pytest.mark.anyio


def v7_database(path: Path) -> None:
    """A V7 database with documents in two generations of one projection,
    the older one active, and some deleted (gaps in the rowids)."""
    with closing(sqlite3.connect(path, isolation_level=None)) as conn:
        conn.execute("BEGIN")
        for statement in schema._statements("".join(schema.MIGRATIONS[:7])):
            conn.execute(statement)
        conn.execute("PRAGMA user_version = 7")
        conn.execute("INSERT INTO projection_generations VALUES ('notes', 1, 2)")
        for generation in (1, 2):
            for n in range(6):
                conn.execute("INSERT INTO read_models VALUES ('notes', ?, 'acme', ?, ?, ?)",
                             (generation, f"n-{n}", "open" if n % 2 else None,
                              f'{{"n": {n}, "generation": {generation}}}'))
        conn.execute("DELETE FROM read_models WHERE key IN ('n-1', 'n-3')")
        conn.execute("COMMIT")


def fts_integrity(path: Path) -> None:
    with closing(sqlite3.connect(path, isolation_level=None)) as conn:
        conn.execute("INSERT INTO read_models_search (read_models_search) "
                     "VALUES ('integrity-check')")


async def test_v8_keeps_every_document_and_makes_them_searchable(tmp_path: Path) -> None:
    path = tmp_path / "signoff.db"
    v7_database(path)

    async with SqliteStore(path) as store:
        docs = await store.read(lambda uow: uow.read_models.find("acme", "notes"))
        opened = await store.read(lambda uow: uow.read_models.find("acme", "notes", index="open"))
        fresh = await store.read(
            lambda uow: uow.read_models.writer("acme", "notes", 2).get("n-4"))
        assert [d["n"] for d in docs] == [0, 2, 4, 5]
        assert {d["generation"] for d in docs} == {1}
        assert [d["n"] for d in opened] == [5]
        assert fresh == {"n": 4, "generation": 2}
        assert await store.read(
            lambda uow: uow.read_models.search("acme", "notes", "anything", 10)) == []

        await store.write(lambda uow: uow.read_models.writer("acme", "notes").put_many(
            [(f"n-{n}", {"n": n}, None, f"note number{n} shared") for n in (0, 2, 4, 5)]))
        found = await store.read(
            lambda uow: uow.read_models.search("acme", "notes", "number4", 10))
        assert [key for key, _, _ in found] == ["n-4"]
    fts_integrity(path)


async def test_the_index_survives_vacuum(tmp_path: Path) -> None:
    """SQLite reserves VACUUM the right to renumber the rowids of a table
    without an INTEGER PRIMARY KEY; the documents' `id` is one, and after a
    VACUUM over deleted rows the index still names the right documents."""
    path = tmp_path / "signoff.db"
    async with SqliteStore(path) as store:
        await store.write(lambda uow: uow.read_models.writer("acme", "notes").put_many(
            [(f"n-{n:02d}", {"n": n}, None, f"word{n} common") for n in range(40)]))
        await store.write(lambda uow: uow.read_models.writer("acme", "notes").delete_many(
            [f"n-{n:02d}" for n in range(0, 40, 3)]))
    with closing(sqlite3.connect(path, isolation_level=None)) as conn:
        conn.execute("VACUUM")
    fts_integrity(path)

    async with SqliteStore(path) as store:
        for n in (1, 20, 38):
            def word(uow: UnitOfWork, n: int = n) -> list[tuple[str, dict[str, Any], float]]:
                return uow.read_models.search("acme", "notes", f"word{n}", 5)

            found = await store.read(word)
            assert [(key, doc) for key, doc, _ in found] == [(f"n-{n:02d}", {"n": n})]
        common = await store.read(
            lambda uow: uow.read_models.search("acme", "notes", "common", 100))
        assert len(common) == 40 - len(range(0, 40, 3))
