"""Console sessions, kept in the database so that every console process on
it agrees on who is signed in.

The browser's cookie holds only a random session id; the store holds its
sha256, so a copy of the database opens no session. A session is valid while
it is not revoked, was active within the idle timeout and is younger than the
absolute lifetime. Revoking (sign-out, a principal removed, a token rotated)
is a row update every process sees on the next request. The CSRF token of a
session is derived from its id, so it is as secret as the cookie and needs no
storage.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from signoff.server.clock import Clock
from signoff.store.ports import Store
from signoff.store.records import ConsoleSession

MAX_ID = 128  # longer cookie values are not ours: refused without a lookup


def session_hash(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


def csrf_of(session_id: str) -> str:
    return hmac.new(session_id.encode(), b"signoff console csrf", hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class Opened:
    """A new session: the id for the cookie, and what was stored."""

    session_id: str
    session: ConsoleSession


@dataclass(frozen=True)
class SessionRules:
    idle: timedelta = timedelta(minutes=30)
    lifetime: timedelta = timedelta(hours=8)


class Sessions:
    """The console's door to its sessions in the store."""

    def __init__(self, store: Store, clock: Clock, rules: SessionRules) -> None:
        self._store = store
        self._clock = clock
        self.rules = rules

    async def open(self, principal_id: str, credential: str | None,
                   state: Mapping[str, Any]) -> Opened:
        now = self._clock()
        session_id = secrets.token_urlsafe(32)  # 256 random bits
        session = ConsoleSession(
            session_hash=session_hash(session_id), principal_id=principal_id,
            credential=credential, created_at=now, last_seen_at=now, state=dict(state))
        # A taken hash (it will not happen) raises DuplicateRecord: never reused.
        await self._store.write(lambda uow: uow.console_sessions.create(session))
        return Opened(session_id, session)

    async def find(self, session_id: str) -> ConsoleSession | None:
        """The live session with this id; None when there is none, it was
        revoked, or it has expired (which revokes it, for every process)."""
        if not session_id or len(session_id) > MAX_ID:
            return None
        key = session_hash(session_id)
        found = await self._store.read(lambda uow: uow.console_sessions.get(key))
        if found is None or found.revoked_at is not None:
            return None
        expired = self.expired(found)
        if expired is not None:
            await self.revoke(found, expired)
            return None
        return found

    def expired(self, session: ConsoleSession) -> str | None:
        """Why a session is too old to use, or None."""
        now = self._clock()
        if now - session.created_at >= self.rules.lifetime:
            return "expired"
        if now - session.last_seen_at >= self.rules.idle:
            return "idle"
        return None

    async def touch(self, session: ConsoleSession) -> None:
        now = self._clock()
        await self._store.write(lambda uow: uow.console_sessions.touch(session.session_hash, now))

    async def set_state(self, session: ConsoleSession, state: Mapping[str, Any]) -> None:
        await self._store.write(
            lambda uow: uow.console_sessions.set_state(session.session_hash, state))

    async def revoke(self, session: ConsoleSession, reason: str) -> None:
        now = self._clock()
        await self._store.write(
            lambda uow: uow.console_sessions.revoke(session.session_hash, now, reason))

    async def revoke_principal(self, principal_id: str, reason: str) -> int:
        now = self._clock()
        return await self._store.write(
            lambda uow: uow.console_sessions.revoke_principal(principal_id, now, reason))

    async def prune(self) -> int:
        """Forget sessions that can no longer be valid (last seen longer ago
        than the lifetime, so also created before it)."""
        cutoff: datetime = self._clock() - self.rules.lifetime
        return await self._store.write(lambda uow: uow.console_sessions.prune(cutoff))
