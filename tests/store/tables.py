"""Test helpers that read the SQLite adapter's tables directly, for
comparisons no port needs to offer."""

from __future__ import annotations

import json
from typing import Any

from signoff.store.ports import UnitOfWork
from signoff.store.sqlite.unit_of_work import SqliteUnitOfWork

Documents = list[tuple[str, str, dict[str, Any]]]


def live_documents(uow: UnitOfWork, projection: str) -> Documents:
    """(tenant, key, doc) of the projection's live generation, sorted by
    tenant and key: run it as a job, `store.read(lambda uow: ...)`."""
    assert isinstance(uow, SqliteUnitOfWork), "reads SQLite's tables"
    rows = uow.sql.all(
        "SELECT tenant_id, key, doc FROM read_models WHERE projection = ? AND generation = "
        "COALESCE((SELECT active FROM projection_generations WHERE projection = ?), 0) "
        "ORDER BY tenant_id, key",
        (projection, projection),
    )
    return [(str(tenant), str(key), json.loads(doc)) for tenant, key, doc in rows]
