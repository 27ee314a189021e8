"""Projection documents in generations.

Queries read the projection's active generation. A rebuild fills a new
generation from the event log while queries go on reading the old one, then
`activate` swaps it in and drops the older generations in one transaction.
Only the latest generation begun can be activated: of two rebuilds racing,
the one that began first is refused (GenerationSuperseded), never the
documents of the newer one deleted.

A document's search text is a column of its row, indexed by FTS5 through
the schema's triggers (V8), so it comes and goes with the row: a rebuild's
texts are searched once its generation is active, and never before.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping, Sequence
from typing import Any

from signoff.store.errors import GenerationSuperseded
from signoff.store.ports import DocumentRow
from signoff.store.search_terms import fts5_match, terms
from signoff.store.sqlite.rows import dumps_doc, loads_doc
from signoff.store.sqlite.sql import Sql

_PUT = (
    "INSERT INTO read_models (projection, generation, tenant_id, key, ix, doc, search_text) "
    "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (projection, generation, tenant_id, key) "
    "DO UPDATE SET ix = excluded.ix, doc = excluded.doc, search_text = excluded.search_text"
)
_DELETE = (
    "DELETE FROM read_models WHERE projection = ? AND generation = ? "
    "AND tenant_id = ? AND key = ?"
)


# The index holds every projection, tenant and generation; each document's
# scope (its `search_scope` column, V8) is a word of its own in the index,
# so the match is narrowed to one scope inside FTS5 and ranked there: a
# search costs what its own scope matches, however large the others are,
# and only the best `limit` rows are joined to their documents. The scope's
# column weighs nothing in bm25(). (bm25's document frequencies are counted
# over the whole index, which shifts scores a little but not which of two
# documents matches a query better.)
_SEARCH = (
    "SELECT r.key, r.doc, -s.score FROM (SELECT rowid, "
    "bm25(read_models_search, 1.0, 0.0) AS score FROM read_models_search "
    "WHERE read_models_search MATCH ? ORDER BY score, rowid LIMIT ?) AS s "
    "JOIN read_models AS r ON r.id = s.rowid ORDER BY s.score, r.key"
)


def scope_word(projection: str, generation: int, tenant_id: str) -> str:
    """The word V8's `search_scope` makes of a document's scope: each id's
    UTF-8 bytes in hex (one word whatever the id holds), `x` between."""
    return f"{projection.encode().hex()}x{generation}x{tenant_id.encode().hex()}"


class SqliteDocumentWriter:
    def __init__(
        self, db: Sql, projection: str, generation: int, tenant_id: str
    ) -> None:
        self._db = db
        self._scope = (projection, generation, tenant_id)
        # Which generation this writer writes: a projector keeping documents
        # across steps knows by it that a rebuild swapped another one in.
        self.generation = generation

    def get(self, key: str) -> dict[str, Any] | None:
        row = self._db.one(
            "SELECT doc FROM read_models WHERE projection = ? AND generation = ? "
            "AND tenant_id = ? AND key = ?",
            (*self._scope, key),
        )
        return loads_doc(row[0]) if row else None

    def put(
        self, key: str, doc: Mapping[str, Any], index: str | None = None, *,
        text: str | None = None,
    ) -> None:
        self._db.run(_PUT, (*self._scope, key, index, dumps_doc(doc), text))

    def delete(self, key: str) -> None:
        self._db.run(_DELETE, (*self._scope, key))

    def get_many(self, keys: Collection[str]) -> dict[str, dict[str, Any]]:
        if not keys:
            return {}
        # One JSON array parameter, however many keys: no variable limit.
        rows = self._db.all(
            "SELECT key, doc FROM read_models WHERE projection = ? AND generation = ? "
            "AND tenant_id = ? AND key IN (SELECT value FROM json_each(?))",
            (*self._scope, json.dumps(list(keys))),
        )
        return {str(key): loads_doc(doc) for key, doc in rows}

    def put_many(self, docs: Sequence[DocumentRow]) -> None:
        self._db.many(_PUT, [(*self._scope, key, index, dumps_doc(doc), text)
                             for key, doc, index, text in docs])

    def delete_many(self, keys: Collection[str]) -> None:
        self._db.many(_DELETE, [(*self._scope, key) for key in keys])


class SqliteReadModels:
    def __init__(self, db: Sql) -> None:
        self._db = db
        self._active: dict[str, int] = {}

    def _generation(self, projection: str) -> int:
        # Cached for the life of this transaction only: a transaction object
        # is never reused, so a swap in another one cannot be missed.
        if projection not in self._active:
            row = self._db.one(
                "SELECT active FROM projection_generations WHERE projection = ?", (projection,)
            )
            self._active[projection] = int(row[0]) if row else 0
        return self._active[projection]

    def writer(
        self, tenant_id: str, projection: str, generation: int | None = None
    ) -> SqliteDocumentWriter:
        gen = self._generation(projection) if generation is None else generation
        return SqliteDocumentWriter(self._db, projection, gen, tenant_id)

    def get(self, tenant_id: str, projection: str, key: str) -> dict[str, Any] | None:
        return self.writer(tenant_id, projection).get(key)

    def find(
        self, tenant_id: str, projection: str, *, index: str | None = None, limit: int = 100
    ) -> list[dict[str, Any]]:
        gen = self._generation(projection)
        if index is None:
            rows = self._db.all(
                "SELECT doc FROM read_models WHERE projection = ? AND generation = ? "
                "AND tenant_id = ? ORDER BY key LIMIT ?",
                (projection, gen, tenant_id, limit),
            )
        else:
            rows = self._db.all(
                "SELECT doc FROM read_models WHERE projection = ? AND generation = ? "
                "AND tenant_id = ? AND ix = ? ORDER BY key LIMIT ?",
                (projection, gen, tenant_id, index, limit),
            )
        return [loads_doc(r[0]) for r in rows]

    def search(
        self, tenant_id: str, projection: str, query: str, limit: int
    ) -> list[tuple[str, dict[str, Any], float]]:
        words = terms(query)
        if not words or limit <= 0:
            return []
        scope = scope_word(projection, self._generation(projection), tenant_id)
        match = f'search_scope : "{scope}" AND search_text : ({fts5_match(words)})'
        # bm25() is lower for better matches: negated, higher is better.
        rows = self._db.all(_SEARCH, (match, limit))
        return [(str(key), loads_doc(doc), float(score)) for key, doc, score in rows]

    def begin_generation(self, projection: str) -> int:
        row = self._db.one(
            "SELECT latest FROM projection_generations WHERE projection = ?", (projection,)
        )
        new = (int(row[0]) if row else 0) + 1
        self._db.run(
            "INSERT INTO projection_generations (projection, active, latest) VALUES (?, 0, ?) "
            "ON CONFLICT (projection) DO UPDATE SET latest = excluded.latest",
            (projection, new),
        )
        # A crashed earlier rebuild may have left rows in this generation.
        self._db.run(
            "DELETE FROM read_models WHERE projection = ? AND generation = ?", (projection, new)
        )
        return new

    def activate(self, projection: str, generation: int, *, check_only: bool = False) -> None:
        row = self._db.one(
            "SELECT latest FROM projection_generations WHERE projection = ?", (projection,)
        )
        latest = int(row[0]) if row else None
        if latest != generation:
            # A newer rebuild began: it owns the documents above ours, and
            # deleting "every other generation" would delete what it filled.
            raise GenerationSuperseded(projection, generation, latest)
        if check_only:
            return
        self._db.run(
            "UPDATE projection_generations SET active = ? WHERE projection = ?",
            (generation, projection),
        )
        self._db.run(
            "DELETE FROM read_models WHERE projection = ? AND generation < ?",
            (projection, generation),
        )
        self._active[projection] = generation
