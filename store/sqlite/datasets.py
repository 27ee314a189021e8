"""`DatasetReads` on SQLite: pages in rowid order, batches by `IN (...)`.

A row's rowid is the order it was written in (proposals change in place,
by UPDATE, which keeps it), so it is the keyset of every page. A run's
first call is the one with no earlier call of the same tenant and run id:
one probe of `runtime_by_run` per candidate. Times the log keeps only in
its documents are compared with julianday(), which reads their "Z" and
their microseconds alike.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

from signoff.store.datasets import Doc, Logged, Made, RunKey
from signoff.store.sqlite.rows import ts
from signoff.store.sqlite.sql import Sql

CHUNK = 500  # ids per IN (...), well under SQLite's limit on parameters
_FIRST_OF_RUN = (
    "(r.run_id IS NULL OR NOT EXISTS (SELECT 1 FROM runtime_log AS o "
    "WHERE o.run_id = r.run_id AND o.tenant_id = r.tenant_id AND o.rowid < r.rowid))")


def _chunks(values: Sequence[str]) -> Iterator[Sequence[str]]:
    for start in range(0, len(values), CHUNK):
        yield values[start:start + CHUNK]


def _marks(values: Sequence[object]) -> str:
    return ", ".join("?" * len(values))


class SqliteDatasets:
    def __init__(self, db: Sql) -> None:
        self._db = db

    # -- runs -------------------------------------------------------------------

    def _run_filter(self, since: datetime | None, tenant_id: str | None
                    ) -> tuple[list[str], list[Any]]:
        where, args = [_FIRST_OF_RUN], []
        if tenant_id is not None:
            where.append("r.tenant_id = ?")
            args.append(tenant_id)
        if since is not None:
            where.append("julianday(json_extract(r.doc, '$.at')) >= julianday(?)")
            args.append(ts(since))
        return where, args

    def run_starts(self, *, since: datetime | None, tenant_id: str | None, after: int,
                   limit: int) -> list[Logged]:
        where, args = self._run_filter(since, tenant_id)
        rows = self._db.all(
            "SELECT r.rowid, r.tenant_id, r.run_id, r.doc FROM runtime_log AS r "  # noqa: S608
            f"WHERE r.rowid > ? AND {' AND '.join(where)} ORDER BY r.rowid LIMIT ?",
            (after, *args, limit))
        return [Logged(n, (tenant, run), json.loads(doc)) for n, tenant, run, doc in rows]

    def count_runs(self, *, since: datetime | None, tenant_id: str | None) -> int:
        where, args = self._run_filter(since, tenant_id)
        row = self._db.one(
            f"SELECT COUNT(*) FROM runtime_log AS r WHERE {' AND '.join(where)}",  # noqa: S608
            tuple(args))
        return int(row[0])

    def run_calls(self, runs: Sequence[RunKey]) -> list[Logged]:
        wanted = {key for key in runs if key[1] is not None}
        ids = sorted({run for _, run in wanted if run is not None})
        rows: list[tuple[int, str, str, str]] = []
        for chunk in _chunks(ids):
            rows += self._db.all(
                "SELECT rowid, tenant_id, run_id, doc FROM runtime_log "  # noqa: S608
                f"WHERE run_id IN ({_marks(chunk)}) ORDER BY rowid", tuple(chunk))
        if len(ids) > CHUNK:  # each chunk came in log order; all of them, not yet
            rows.sort()
        return [Logged(n, (tenant, run), json.loads(doc)) for n, tenant, run, doc in rows
                if (tenant, run) in wanted]

    # -- proposals ----------------------------------------------------------------

    def _made_filter(self, since: datetime | None, tenant_id: str | None
                     ) -> tuple[str, list[Any]]:
        where, args = [], []
        if tenant_id is not None:
            where.append("tenant_id = ?")
            args.append(tenant_id)
        if since is not None:
            where.append("created_at >= ?")
            args.append(ts(since))
        return "".join(f" AND {w}" for w in where), args

    def proposals_made(self, *, since: datetime | None, tenant_id: str | None, after: int,
                       limit: int) -> list[Made]:
        where, args = self._made_filter(since, tenant_id)
        rows = self._db.all(
            f"SELECT rowid, doc FROM proposals WHERE rowid > ?{where} "  # noqa: S608
            "ORDER BY rowid LIMIT ?", (after, *args, limit))
        return [Made(int(n), json.loads(doc)) for n, doc in rows]

    def count_proposals(self, *, since: datetime | None, tenant_id: str | None) -> int:
        where, args = self._made_filter(since, tenant_id)
        row = self._db.one(f"SELECT COUNT(*) FROM proposals WHERE 1 = 1{where}",  # noqa: S608
                           tuple(args))
        return int(row[0])

    def proposals(self, proposal_ids: Sequence[str]) -> dict[str, Doc]:
        found: dict[str, Doc] = {}
        for chunk in _chunks(sorted(set(proposal_ids))):
            for proposal_id, doc in self._db.all(
                    "SELECT proposal_id, doc FROM proposals "  # noqa: S608
                    f"WHERE proposal_id IN ({_marks(chunk)})", tuple(chunk)):
                found[proposal_id] = json.loads(doc)
        return found

    def redecided(self, proposal_ids: Sequence[str]) -> dict[str, list[Doc]]:
        # Which ones were decided again is read off the index alone.
        return self._history("decisions", proposal_ids, "proposal_id IN (SELECT proposal_id "
                             "FROM decisions WHERE proposal_id IN ({}) GROUP BY proposal_id "
                             "HAVING COUNT(*) > 1)")

    def votes(self, proposal_ids: Sequence[str]) -> dict[str, list[Doc]]:
        return self._history("votes", proposal_ids, "proposal_id IN ({})")

    def _history(self, table: str, proposal_ids: Sequence[str],
                 where: str) -> dict[str, list[Doc]]:
        rows: list[tuple[int, str, str]] = []
        for chunk in _chunks(sorted(set(proposal_ids))):
            rows += self._db.all(
                f"SELECT rowid, proposal_id, doc FROM {table} "  # noqa: S608 - our SQL only
                f"WHERE {where.format(_marks(chunk))}", tuple(chunk))
        found: defaultdict[str, list[Doc]] = defaultdict(list)
        for _, proposal_id, doc in sorted(rows):
            found[proposal_id].append(json.loads(doc))
        return dict(found)
