"""`ConsoleSessions` on the `console_sessions` table.

Unlike the tables that hold facts this one is mutable: a session is touched
on activity and revoked once. Timestamps are `ts` columns so SQL can compare
them; the console's state is a JSON column.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from signoff.store.records import ConsoleSession
from signoff.store.sqlite.rows import ts, ts_or_none
from signoff.store.sqlite.sql import Sql

_COLUMNS = ("session_hash, principal_id, credential, created_at, last_seen_at, revoked_at, "
            "revoked_reason, state")


class SqliteConsoleSessions:
    def __init__(self, db: Sql) -> None:
        self._db = db

    def create(self, session: ConsoleSession) -> None:
        self._db.run(
            f"INSERT INTO console_sessions ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",  # noqa: S608
            (session.session_hash, session.principal_id, session.credential,
             ts(session.created_at), ts(session.last_seen_at), ts_or_none(session.revoked_at),
             session.revoked_reason, _json(session.state)),
        )

    def get(self, session_hash: str) -> ConsoleSession | None:
        row = self._db.one(
            f"SELECT {_COLUMNS} FROM console_sessions WHERE session_hash = ?",  # noqa: S608
            (session_hash,),
        )
        return _session(row) if row else None

    def touch(self, session_hash: str, at: datetime) -> bool:
        cur = self._db.run(
            "UPDATE console_sessions SET last_seen_at = ? "
            "WHERE session_hash = ? AND revoked_at IS NULL",
            (ts(at), session_hash),
        )
        return cur.rowcount == 1

    def set_state(self, session_hash: str, state: Mapping[str, Any]) -> bool:
        cur = self._db.run(
            "UPDATE console_sessions SET state = ? WHERE session_hash = ? AND revoked_at IS NULL",
            (_json(state), session_hash),
        )
        return cur.rowcount == 1

    def revoke(self, session_hash: str, at: datetime, reason: str) -> bool:
        cur = self._db.run(
            "UPDATE console_sessions SET revoked_at = ?, revoked_reason = ? "
            "WHERE session_hash = ? AND revoked_at IS NULL",
            (ts(at), reason, session_hash),
        )
        return cur.rowcount == 1

    def revoke_principal(self, principal_id: str, at: datetime, reason: str) -> int:
        cur = self._db.run(
            "UPDATE console_sessions SET revoked_at = ?, revoked_reason = ? "
            "WHERE principal_id = ? AND revoked_at IS NULL",
            (ts(at), reason, principal_id),
        )
        return int(cur.rowcount)

    def prune(self, last_seen_before: datetime) -> int:
        cur = self._db.run(
            "DELETE FROM console_sessions WHERE last_seen_at < ?", (ts(last_seen_before),)
        )
        return int(cur.rowcount)


def _json(state: Mapping[str, Any]) -> str:
    return json.dumps(dict(state), separators=(",", ":"), sort_keys=True)


def _session(row: Any) -> ConsoleSession:
    hash_, principal, credential, created, seen, revoked, reason, state = row
    return ConsoleSession(
        session_hash=hash_, principal_id=principal, credential=credential,
        created_at=datetime.fromisoformat(created), last_seen_at=datetime.fromisoformat(seen),
        revoked_at=datetime.fromisoformat(revoked) if revoked else None,
        revoked_reason=reason, state=json.loads(state),
    )
