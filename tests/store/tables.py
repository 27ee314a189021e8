"""Test helpers that read an adapter's tables directly, for comparisons no
port needs to offer. Both adapters name their tables and columns alike; only
the placeholders differ."""

from __future__ import annotations

import json
from typing import Any

from signoff.store.ports import UnitOfWork
from signoff.store.postgres.unit_of_work import PostgresUnitOfWork
from signoff.store.sqlite.unit_of_work import SqliteUnitOfWork

Documents = list[tuple[str, str, dict[str, Any]]]


def rows(uow: UnitOfWork, query: str, *args: Any) -> list[tuple[Any, ...]]:
    """`query` (with `?` placeholders) on the adapter's own tables."""
    if isinstance(uow, PostgresUnitOfWork):
        return uow.sql.all(query.replace("?", "%s"), args)
    assert isinstance(uow, SqliteUnitOfWork), "reads SQLite's or PostgreSQL's tables"
    return [tuple(row) for row in uow.sql.all(query, args)]


def count_rows(uow: UnitOfWork, table: str) -> int:
    return int(rows(uow, f"SELECT COUNT(*) FROM {table}")[0][0])


def live_documents(uow: UnitOfWork, projection: str) -> Documents:
    """(tenant, key, doc) of the projection's live generation, sorted by
    tenant and key: run it as a job, `store.read(lambda uow: ...)`."""
    found = rows(
        uow,
        "SELECT tenant_id, key, doc FROM read_models WHERE projection = ? AND generation = "
        "COALESCE((SELECT active FROM projection_generations WHERE projection = ?), 0) "
        "ORDER BY tenant_id, key",
        projection, projection,
    )
    return [(str(tenant), str(key), json.loads(doc)) for tenant, key, doc in found]
