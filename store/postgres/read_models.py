"""Projection documents in generations, as on SQLite: queries read the
projection's active generation, a rebuild fills a new one and `activate`
swaps it in and drops the older ones in one transaction.

Across processes: `begin_generation` takes the next number in one upsert, so
two rebuilds starting at once get different generations, and `activate`
locks the projection's row before comparing, so a rebuild that began in the
meantime is never deleted by an older one (GenerationSuperseded).

A document's search text and its `tsvector` are columns of its row (V3), so
search follows the generations with nothing of its own to swap.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any

from signoff.store.errors import GenerationSuperseded
from signoff.store.ports import DocumentRow
from signoff.store.postgres.rows import dumps_doc, loads_doc
from signoff.store.postgres.search import search
from signoff.store.postgres.sql import PgSql

_PUT = (
    "INSERT INTO read_models (projection, generation, tenant_id, key, ix, doc, search_text) "
    "VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT (projection, generation, tenant_id, key) "
    "DO UPDATE SET ix = excluded.ix, doc = excluded.doc, search_text = excluded.search_text"
)
_SCOPE = "projection = %s AND generation = %s AND tenant_id = %s"


class PostgresDocumentWriter:
    def __init__(self, db: PgSql, projection: str, generation: int, tenant_id: str) -> None:
        self._db = db
        self._scope = (projection, generation, tenant_id)
        # Which generation this writer writes: a projector keeping documents
        # across steps knows by it that a rebuild swapped another one in.
        self.generation = generation

    def get(self, key: str) -> dict[str, Any] | None:
        row = self._db.one(
            f"SELECT doc FROM read_models WHERE {_SCOPE} AND key = %s",  # noqa: S608
            (*self._scope, key),
        )
        return loads_doc(row[0]) if row else None

    def put(
        self, key: str, doc: Mapping[str, Any], index: str | None = None, *,
        text: str | None = None,
    ) -> None:
        self._db.run(_PUT, (*self._scope, key, index, dumps_doc(doc), text))

    def delete(self, key: str) -> None:
        self._db.run(
            f"DELETE FROM read_models WHERE {_SCOPE} AND key = %s",  # noqa: S608
            (*self._scope, key),
        )

    def get_many(self, keys: Collection[str]) -> dict[str, dict[str, Any]]:
        if not keys:
            return {}
        rows = self._db.all(
            f"SELECT key, doc FROM read_models WHERE {_SCOPE} AND key = ANY(%s)",  # noqa: S608
            (*self._scope, list(keys)),
        )
        return {str(key): loads_doc(doc) for key, doc in rows}

    def put_many(self, docs: Sequence[DocumentRow]) -> None:
        if docs:
            self._db.many(_PUT, [(*self._scope, key, index, dumps_doc(doc), text)
                                 for key, doc, index, text in docs])

    def delete_many(self, keys: Collection[str]) -> None:
        if keys:
            self._db.run(
                f"DELETE FROM read_models WHERE {_SCOPE} AND key = ANY(%s)",  # noqa: S608
                (*self._scope, list(keys)),
            )


class PostgresReadModels:
    def __init__(self, db: PgSql) -> None:
        self._db = db
        self._active: dict[str, int] = {}

    def _generation(self, projection: str) -> int:
        # Cached for the life of this transaction only (a unit of work is
        # never reused), so a swap committed by another one cannot be missed.
        if projection not in self._active:
            row = self._db.one(
                "SELECT active FROM projection_generations WHERE projection = %s", (projection,)
            )
            self._active[projection] = int(row[0]) if row else 0
        return self._active[projection]

    def writer(
        self, tenant_id: str, projection: str, generation: int | None = None
    ) -> PostgresDocumentWriter:
        gen = self._generation(projection) if generation is None else generation
        return PostgresDocumentWriter(self._db, projection, gen, tenant_id)

    def get(self, tenant_id: str, projection: str, key: str) -> dict[str, Any] | None:
        return self.writer(tenant_id, projection).get(key)

    def find(
        self, tenant_id: str, projection: str, *, index: str | None = None, limit: int = 100
    ) -> list[dict[str, Any]]:
        gen = self._generation(projection)
        if index is None:
            rows = self._db.all(
                "SELECT doc FROM read_models WHERE projection = %s AND generation = %s "
                "AND tenant_id = %s ORDER BY key LIMIT %s",
                (projection, gen, tenant_id, limit),
            )
        else:
            rows = self._db.all(
                "SELECT doc FROM read_models WHERE projection = %s AND generation = %s "
                "AND tenant_id = %s AND ix = %s ORDER BY key LIMIT %s",
                (projection, gen, tenant_id, index, limit),
            )
        return [loads_doc(r[0]) for r in rows]

    def search(
        self, tenant_id: str, projection: str, query: str, limit: int
    ) -> list[tuple[str, dict[str, Any], float]]:
        rows = search(self._db, (projection, self._generation(projection), tenant_id),
                      query, limit)
        return [(key, loads_doc(doc), score) for key, doc, score in rows]

    def begin_generation(self, projection: str) -> int:
        row = self._db.one(
            "INSERT INTO projection_generations (projection, active, latest) VALUES (%s, 0, 1) "
            "ON CONFLICT (projection) DO UPDATE SET latest = projection_generations.latest + 1 "
            "RETURNING latest",
            (projection,),
        )
        assert row is not None  # an upsert's RETURNING always has its row
        new = int(row[0])
        # A crashed earlier rebuild may have left rows in this generation.
        self._db.run(
            "DELETE FROM read_models WHERE projection = %s AND generation = %s", (projection, new)
        )
        return new

    def activate(self, projection: str, generation: int, *, check_only: bool = False) -> None:
        # Locked (unless only checking), so a rebuild beginning meanwhile waits.
        lock = "" if check_only or self._db.read_only else " FOR UPDATE"
        row = self._db.one(
            f"SELECT latest FROM projection_generations WHERE projection = %s{lock}",  # noqa: S608
            (projection,),
        )
        latest = int(row[0]) if row else None
        if latest != generation:
            # A newer rebuild began: it owns the documents above ours, and
            # deleting "every other generation" would delete what it filled.
            raise GenerationSuperseded(projection, generation, latest)
        if check_only:
            return
        self._db.run(
            "UPDATE projection_generations SET active = %s WHERE projection = %s",
            (generation, projection),
        )
        self._db.run(
            "DELETE FROM read_models WHERE projection = %s AND generation < %s",
            (projection, generation),
        )
        self._active[projection] = generation
