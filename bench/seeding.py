"""Grow a store to a million proposals and events by bulk SQL, not the write path.

Going through `submit` a million times would take hours; inventing rows by
hand would drift from the real schema. Instead one real allowed command is
run as a template, and every row it added is cloned N times with plain SQL
(`INSERT ... SELECT` over a sequence), into the real tables with their
indexes and triggers: each clone gets its own ids, so a million clones are a
million proposals, each with its decision, lifecycle events (its
idempotency key and result live on the proposal), domain event, outbox
message and read-model row, as the command wrote them, all from the last hour.

Which values are ids: text in a column named `*_id`, `key` or
`idempotency_key` of an added row
that the database did not hold before the command (so the tenant, the agent
and the case it drafted on stay as they are). Each id is replaced, in every
text column (documents included), by itself with its last 8 characters
turned into the clone's number in hex. Rows whose key holds no id (the rate
counters: per principal and run, per principal and minute) are not cloned
but counted up, by N times what the template added to them. Outbox clones
are marked published, as a live relay would have left them.
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

from benchlib import err

CHUNK = 50_000
ID_COLUMNS = ("key", "idempotency_key")


@dataclass
class Table:
    name: str
    columns: list[str]  # the columns cloned (a rowid alias is left to SQLite)
    key: list[str]
    text: set[str]


def _tables(conn: sqlite3.Connection) -> dict[str, Table]:
    out: dict[str, Table] = {}
    # A full-text index (a virtual table and its shadow tables) is kept by
    # triggers from the rows cloned into its content table: never cloned.
    virtual = [str(r[0]) for r in conn.execute(
        "SELECT name FROM main.sqlite_master WHERE type = 'table' "
        "AND sql LIKE 'CREATE VIRTUAL TABLE%'")]
    for (name,) in conn.execute("SELECT name FROM main.sqlite_master WHERE type = 'table' "
                                "AND name NOT LIKE 'sqlite_%'").fetchall():
        if any(name == v or name.startswith(f"{v}_") for v in virtual):
            continue
        info = conn.execute(f'PRAGMA main.table_info("{name}")').fetchall()
        key = [c[1] for c in sorted(info, key=lambda c: c[5]) if c[5]]
        rowid_alias = len(key) == 1 and next(c[2] for c in info if c[1] == key[0]).upper() \
            == "INTEGER"
        columns = [c[1] for c in info if not (rowid_alias and c[1] == key[0])]
        out[name] = Table(name, columns, key, {c[1] for c in info if "TEXT" in c[2].upper()})
    return out


def _is_id(column: str) -> bool:
    return column.endswith("_id") or column in ID_COLUMNS


def clone_template(path: Path, before: Path, clones: int) -> dict[str, int]:
    """Clone `clones` times what the database at `path` holds beyond the copy
    at `before` (one command's rows); the rows added per table."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA synchronous = OFF")  # setup, not measured; checkpointed after
    conn.execute("PRAGMA cache_size = -1000000")
    conn.execute("ATTACH DATABASE ? AS before", (str(before),))
    tables = _tables(conn)
    added: dict[str, list[sqlite3.Row]] = {}
    conn.row_factory = sqlite3.Row
    for t in tables.values():
        cols = ", ".join(f'"{c}"' for c in t.columns)
        conn.execute(f'CREATE TEMP TABLE "tmpl_{t.name}" AS SELECT {cols} FROM main."{t.name}" '
                     f'EXCEPT SELECT {cols} FROM before."{t.name}"')
        rows = conn.execute(f'SELECT * FROM "tmpl_{t.name}"').fetchall()
        if rows:
            added[t.name] = rows
    ids = _new_ids(conn, tables, added)
    clone: dict[str, list[sqlite3.Row]] = {}
    count: dict[str, list[sqlite3.Row]] = {}
    for name, rows in added.items():
        t = tables[name]
        keyed = [c for c in t.key if c in t.columns]
        holds_id = not keyed or any(row[c] in ids for row in rows for c in keyed)
        (clone if holds_id else count)[name] = rows
    conn.row_factory = None
    _count_up(conn, tables, count, clones)
    started, done = time.perf_counter(), 0
    conn.execute("CREATE TEMP TABLE seq (i INTEGER PRIMARY KEY)")
    while done < clones:
        size = min(CHUNK, clones - done)
        conn.execute("BEGIN")
        conn.execute("DELETE FROM seq")
        conn.execute("WITH RECURSIVE n(i) AS (SELECT ? UNION ALL SELECT i + 1 FROM n "
                     "WHERE i < ?) INSERT INTO seq SELECT i FROM n", (done + 1, done + size))
        for name, rows in clone.items():
            _clone(conn, tables[name], rows, ids, name == "outbox")
        conn.execute("COMMIT")
        done += size
        rate = done / (time.perf_counter() - started)
        err.print(f"  seeded {done:,}/{clones:,} commands' rows ({rate:,.0f}/s)", end="\r")
    err.print()
    conn.execute("DETACH DATABASE before")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    return {name: len(rows) for name, rows in clone.items()}


def _new_ids(conn: sqlite3.Connection, tables: dict[str, Table],
             added: dict[str, list[sqlite3.Row]]) -> set[str]:
    """Text values of id columns that the database did not hold before."""
    ids: set[str] = set()
    for name, rows in added.items():
        for column in tables[name].text:
            if not _is_id(column):
                continue
            for row in rows:
                value = row[column]
                if not isinstance(value, str) or value in ids:
                    continue
                known = conn.execute(f'SELECT 1 FROM before."{name}" WHERE "{column}" = ? '
                                     "LIMIT 1", (value,)).fetchone()
                if known is None:
                    ids.add(value)
    return ids


def _renamed(expr: str, ids: set[str]) -> str:
    """`expr` with every id in it made the clone's own (seq.i)."""
    for value in sorted(ids, key=len, reverse=True):
        stem = value[:-8] if len(value) > 12 else value
        quoted, stem_q = value.replace("'", "''"), stem.replace("'", "''")
        expr = f"replace({expr}, '{quoted}', '{stem_q}' || printf('%08x', seq.i))"
    return expr


def _clone(conn: sqlite3.Connection, t: Table, rows: list[sqlite3.Row], ids: set[str],
           published: bool) -> None:
    cols = ", ".join(f'"{c}"' for c in t.columns)
    exprs = []
    for c in t.columns:
        # Only the ids that occur in this column of the template: each
        # replace() scans the whole value, documents included.
        present = {i for i in ids for r in rows if isinstance(r[c], str) and i in r[c]}
        expr = _renamed(f'tmpl."{c}"', present) if present else f'tmpl."{c}"'
        if published and c == "status":
            expr = "'published'"
        exprs.append(expr)
    conn.execute(f'INSERT INTO main."{t.name}" ({cols}) '
                 f'SELECT {", ".join(exprs)} FROM seq, "tmpl_{t.name}" AS tmpl ORDER BY seq.i')


def _count_up(conn: sqlite3.Connection, tables: dict[str, Table],
              counted: dict[str, list[sqlite3.Row]], clones: int) -> None:
    """Counter rows: each integer column gains `clones` times what the
    template added to it."""
    for name, rows in counted.items():
        t = tables[name]
        for row in rows:
            where = " AND ".join(f'"{c}" = ?' for c in t.key)
            args = [row[c] for c in t.key]
            old = conn.execute(f'SELECT * FROM before."{name}" WHERE {where}', args).fetchone()
            names = [d[0] for d in conn.execute(f'SELECT * FROM main."{name}" LIMIT 0')
                     .description]
            for column in t.columns:
                if column in t.key or not isinstance(row[column], int):
                    continue
                gained = row[column] - (old[names.index(column)] if old else 0)
                conn.execute(f'UPDATE main."{name}" SET "{column}" = "{column}" + ? '
                             f"WHERE {where}", [gained * clones, *args])
