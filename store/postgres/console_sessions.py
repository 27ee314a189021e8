"""`ConsoleSessions` on the `console_sessions` table.

Unlike the tables that hold facts this one is mutable: a session is touched
on activity and revoked once. Its instants are `timestamptz` so SQL compares
them; the console's state is its JSON text.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from signoff.store.postgres.sql import PgSql, Row
from signoff.store.records import ConsoleSession

_COLUMNS = ("session_hash, principal_id, credential, created_at, last_seen_at, revoked_at, "
            "revoked_reason, state")


class PostgresConsoleSessions:
    def __init__(self, db: PgSql) -> None:
        self._db = db

    def create(self, session: ConsoleSession) -> None:
        s = session
        self._db.insert_once(
            f"INSERT INTO console_sessions ({_COLUMNS}) "  # noqa: S608 - constant
            "VALUES (%s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
            (s.session_hash, s.principal_id, s.credential, s.created_at, s.last_seen_at,
             s.revoked_at, s.revoked_reason, _json(s.state)),
            table="console_sessions", keys=[("session_hash",)],
            values={"session_hash": s.session_hash},
        )

    def get(self, session_hash: str) -> ConsoleSession | None:
        row = self._db.one(
            f"SELECT {_COLUMNS} FROM console_sessions WHERE session_hash = %s",  # noqa: S608
            (session_hash,),
        )
        return _session(row) if row else None

    def touch(self, session_hash: str, at: datetime) -> bool:
        cur = self._db.run(
            "UPDATE console_sessions SET last_seen_at = %s "
            "WHERE session_hash = %s AND revoked_at IS NULL",
            (at, session_hash),
        )
        return cur.rowcount == 1

    def set_state(self, session_hash: str, state: Mapping[str, Any]) -> bool:
        cur = self._db.run(
            "UPDATE console_sessions SET state = %s "
            "WHERE session_hash = %s AND revoked_at IS NULL",
            (_json(state), session_hash),
        )
        return cur.rowcount == 1

    def revoke(self, session_hash: str, at: datetime, reason: str) -> bool:
        cur = self._db.run(
            "UPDATE console_sessions SET revoked_at = %s, revoked_reason = %s "
            "WHERE session_hash = %s AND revoked_at IS NULL",
            (at, reason, session_hash),
        )
        return cur.rowcount == 1

    def revoke_principal(self, principal_id: str, at: datetime, reason: str) -> int:
        cur = self._db.run(
            "UPDATE console_sessions SET revoked_at = %s, revoked_reason = %s "
            "WHERE principal_id = %s AND revoked_at IS NULL",
            (at, reason, principal_id),
        )
        return int(cur.rowcount)

    def prune(self, last_seen_before: datetime) -> int:
        cur = self._db.run(
            "DELETE FROM console_sessions WHERE last_seen_at < %s", (last_seen_before,)
        )
        return int(cur.rowcount)


def _json(state: Mapping[str, Any]) -> str:
    return json.dumps(dict(state), separators=(",", ":"), sort_keys=True)


def _session(row: Row) -> ConsoleSession:
    hash_, principal, credential, created, seen, revoked, reason, state = row
    return ConsoleSession(
        session_hash=hash_, principal_id=principal, credential=credential,
        created_at=created, last_seen_at=seen, revoked_at=revoked,
        revoked_reason=reason, state=json.loads(state),
    )
