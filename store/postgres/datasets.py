"""`DatasetReads` on PostgreSQL: pages in `seq` order, batches by `= ANY`.

Every table an export reads has an identity `seq` in insertion order (what
SQLite's rowid is there), so it is the keyset of every page. A run's first
call is the one with no earlier call of the same tenant and run id. Times
the log keeps only in its documents are read as timestamptz.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from signoff.store.datasets import Doc, Logged, Made, RunKey
from signoff.store.postgres.sql import PgSql

_FIRST_OF_RUN = (
    "(r.run_id IS NULL OR NOT EXISTS (SELECT 1 FROM runtime_log AS o "
    "WHERE o.run_id = r.run_id AND o.tenant_id = r.tenant_id AND o.seq < r.seq))")


class PostgresDatasets:
    def __init__(self, db: PgSql) -> None:
        self._db = db

    # -- runs -------------------------------------------------------------------

    def _run_filter(self, since: datetime | None, tenant_id: str | None
                    ) -> tuple[list[str], list[Any]]:
        where: list[str] = [_FIRST_OF_RUN]
        args: list[Any] = []
        if tenant_id is not None:
            where.append("r.tenant_id = %s")
            args.append(tenant_id)
        if since is not None:
            where.append("(r.doc::json ->> 'at')::timestamptz >= %s")
            args.append(since)
        return where, args

    def run_starts(self, *, since: datetime | None, tenant_id: str | None, after: int,
                   limit: int) -> list[Logged]:
        where, args = self._run_filter(since, tenant_id)
        rows = self._db.all(
            "SELECT r.seq, r.tenant_id, r.run_id, r.doc FROM runtime_log AS r "  # noqa: S608
            f"WHERE r.seq > %s AND {' AND '.join(where)} ORDER BY r.seq LIMIT %s",
            (after, *args, limit))
        return [Logged(int(n), (tenant, run), json.loads(doc)) for n, tenant, run, doc in rows]

    def count_runs(self, *, since: datetime | None, tenant_id: str | None) -> int:
        where, args = self._run_filter(since, tenant_id)
        row = self._db.one(
            f"SELECT COUNT(*) FROM runtime_log AS r WHERE {' AND '.join(where)}",  # noqa: S608
            tuple(args))
        return int(row[0]) if row else 0

    def run_calls(self, runs: Sequence[RunKey]) -> list[Logged]:
        wanted = {key for key in runs if key[1] is not None}
        ids = sorted({run for _, run in wanted if run is not None})
        if not ids:
            return []
        rows = self._db.all(
            "SELECT seq, tenant_id, run_id, doc FROM runtime_log WHERE run_id = ANY(%s) "
            "ORDER BY seq", (ids,))
        return [Logged(int(n), (tenant, run), json.loads(doc)) for n, tenant, run, doc in rows
                if (tenant, run) in wanted]

    # -- proposals ----------------------------------------------------------------

    def _made_filter(self, since: datetime | None, tenant_id: str | None
                     ) -> tuple[str, list[Any]]:
        where: list[str] = []
        args: list[Any] = []
        if tenant_id is not None:
            where.append("tenant_id = %s")
            args.append(tenant_id)
        if since is not None:
            where.append("created_at >= %s")
            args.append(since)
        return "".join(f" AND {w}" for w in where), args

    def proposals_made(self, *, since: datetime | None, tenant_id: str | None, after: int,
                       limit: int) -> list[Made]:
        where, args = self._made_filter(since, tenant_id)
        rows = self._db.all(
            f"SELECT seq, doc FROM proposals WHERE seq > %s{where} "  # noqa: S608
            "ORDER BY seq LIMIT %s", (after, *args, limit))
        return [Made(int(n), json.loads(doc)) for n, doc in rows]

    def count_proposals(self, *, since: datetime | None, tenant_id: str | None) -> int:
        where, args = self._made_filter(since, tenant_id)
        row = self._db.one(f"SELECT COUNT(*) FROM proposals WHERE TRUE{where}",  # noqa: S608
                           tuple(args))
        return int(row[0]) if row else 0

    def proposals(self, proposal_ids: Sequence[str]) -> dict[str, Doc]:
        rows = self._db.all("SELECT proposal_id, doc FROM proposals WHERE proposal_id = ANY(%s)",
                            (sorted(set(proposal_ids)),))
        return {str(proposal_id): json.loads(doc) for proposal_id, doc in rows}

    def redecided(self, proposal_ids: Sequence[str]) -> dict[str, list[Doc]]:
        return self._history("decisions", proposal_ids, (
            "proposal_id IN (SELECT proposal_id FROM decisions WHERE proposal_id = ANY(%s) "
            "GROUP BY proposal_id HAVING COUNT(*) > 1)"))

    def votes(self, proposal_ids: Sequence[str]) -> dict[str, list[Doc]]:
        return self._history("votes", proposal_ids, "proposal_id = ANY(%s)")

    def _history(self, table: str, proposal_ids: Sequence[str],
                 where: str) -> dict[str, list[Doc]]:
        rows = self._db.all(
            f"SELECT proposal_id, doc FROM {table} WHERE {where} ORDER BY seq",  # noqa: S608
            (sorted(set(proposal_ids)),))
        found: defaultdict[str, list[Doc]] = defaultdict(list)
        for proposal_id, doc in rows:
            found[str(proposal_id)].append(json.loads(doc))
        return dict(found)
