"""The databases the integration tests run on, and one way to look into them.

A test's `db` fixture (tests/conftest.py) is a SQLite file in its `tmp_path`.
A test or module marked `both_adapters` runs twice, as `[sqlite]` and
`[postgres]`: its `db` is then also a fresh schema of the test PostgreSQL
(tests/store/postgres.py), dropped afterwards; where no PostgreSQL answers,
the `[postgres]` run skips and says why. A slow test parametrised over many
cases (crash points) runs them all on SQLite and a few on PostgreSQL
(`cases_on_both`), so the second adapter costs what it proves.

`query` runs SQL on the database itself, read-only and beside the store, so a
test checks what was written without trusting the adapter it tests. The SQL
must be plain enough for both (no placeholders, no dialect functions).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from contextlib import closing
from pathlib import Path
from typing import Any

import psycopg
import pytest

from signoff.server.app import Database

ADAPTERS = ("sqlite", "postgres")
both_adapters = pytest.mark.parametrize("db", ADAPTERS, indirect=True)


def cases_on_both(argname: str, cases: Sequence[str], *,
                  postgres: Sequence[str]) -> pytest.MarkDecorator:
    """Parametrise `argname` over every case on SQLite and over the cases in
    `postgres` (some of them) on PostgreSQL."""
    assert set(postgres) <= set(cases), set(postgres) - set(cases)
    return pytest.mark.parametrize(
        (argname, "db"),
        [(case, "sqlite") for case in cases] + [(case, "postgres") for case in postgres],
        indirect=["db"])


def query(db: Database, sql: str) -> list[tuple[Any, ...]]:
    """The rows `sql` reads from `db`, in a read-only connection of its own."""
    if isinstance(db, Path):
        with closing(sqlite3.connect(f"{db.resolve().as_uri()}?mode=ro", uri=True)) as conn:
            return conn.execute(sql).fetchall()
    with psycopg.connect(db) as conn:
        conn.read_only = True
        return conn.execute(sql.encode()).fetchall()


def scalar(db: Database, sql: str) -> Any:
    """The one value `sql` reads (a count, say)."""
    [(value,)] = query(db, sql)
    return value
