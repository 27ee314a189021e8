"""Console sessions: created once, touched and given state while live,
revoked once (alone or all of a principal's), pruned when old."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from signoff.store.errors import DuplicateRecord
from signoff.store.ports import Store, UnitOfWork
from signoff.store.records import ConsoleSession

pytestmark = pytest.mark.anyio

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def session(hash_: str = "h1", principal: str = "user:alice", *,
            at: datetime = T0, credential: str | None = "c" * 64) -> ConsoleSession:
    return ConsoleSession(session_hash=hash_, principal_id=principal, credential=credential,
                          created_at=at, last_seen_at=at, state={"tenant": "acme"})


async def get(store: Store, hash_: str = "h1") -> ConsoleSession | None:
    return await store.read(lambda uow: uow.console_sessions.get(hash_))


async def test_a_created_session_reads_back_as_written(store: Store) -> None:
    written = session()
    await store.write(lambda uow: uow.console_sessions.create(written))
    assert await get(store) == written
    assert await get(store, "nope") is None
    proxied = session("h2", credential=None)
    await store.write(lambda uow: uow.console_sessions.create(proxied))
    assert await get(store, "h2") == proxied


async def test_a_taken_hash_is_refused_and_writes_nothing(store: Store) -> None:
    await store.write(lambda uow: uow.console_sessions.create(session()))
    with pytest.raises(DuplicateRecord):
        await store.write(lambda uow: uow.console_sessions.create(session(principal="user:bob")))
    stored = await get(store)
    assert stored is not None
    assert stored.principal_id == "user:alice"


async def test_touch_and_state_change_only_a_live_session(store: Store) -> None:
    await store.write(lambda uow: uow.console_sessions.create(session()))
    later = T0 + timedelta(minutes=5)
    assert await store.write(lambda uow: uow.console_sessions.touch("h1", later))
    assert await store.write(lambda uow: uow.console_sessions.set_state("h1", {"tenant": "x"}))
    stored = await get(store)
    assert stored is not None
    assert (stored.last_seen_at, stored.state) == (later, {"tenant": "x"})
    assert not await store.write(lambda uow: uow.console_sessions.touch("nope", later))
    assert not await store.write(lambda uow: uow.console_sessions.set_state("nope", {}))

    assert await store.write(lambda uow: uow.console_sessions.revoke("h1", later, "signed out"))
    much_later = later + timedelta(hours=1)
    assert not await store.write(lambda uow: uow.console_sessions.touch("h1", much_later))
    assert not await store.write(lambda uow: uow.console_sessions.set_state("h1", {}))
    assert await get(store) == stored.model_copy(
        update={"revoked_at": later, "revoked_reason": "signed out"})


async def test_the_first_revocation_stands(store: Store) -> None:
    await store.write(lambda uow: uow.console_sessions.create(session()))
    assert await store.write(lambda uow: uow.console_sessions.revoke("h1", T0, "signed out"))
    again = T0 + timedelta(minutes=1)
    assert not await store.write(lambda uow: uow.console_sessions.revoke("h1", again, "idle"))
    assert not await store.write(lambda uow: uow.console_sessions.revoke("nope", again, "x"))
    stored = await get(store)
    assert stored is not None
    assert (stored.revoked_at, stored.revoked_reason) == (T0, "signed out")


async def test_revoking_a_principal_ends_only_its_live_sessions(store: Store) -> None:
    def seed(uow: UnitOfWork) -> None:
        for hash_, who in (("a1", "user:alice"), ("a2", "user:alice"), ("a3", "user:alice"),
                           ("b1", "user:bob")):
            uow.console_sessions.create(session(hash_, who))
        uow.console_sessions.revoke("a3", T0, "signed out")

    await store.write(seed)
    later = T0 + timedelta(minutes=1)
    ended = await store.write(
        lambda uow: uow.console_sessions.revoke_principal("user:alice", later, "removed"))
    assert ended == 2
    reasons = {h: (s.revoked_reason if (s := await get(store, h)) else "missing")
               for h in ("a1", "a2", "a3", "b1")}
    assert reasons == {"a1": "removed", "a2": "removed", "a3": "signed out", "b1": None}
    assert await store.write(
        lambda uow: uow.console_sessions.revoke_principal("user:nobody", later, "x")) == 0


async def test_prune_deletes_what_was_last_seen_before_the_cutoff(store: Store) -> None:
    def seed(uow: UnitOfWork) -> None:
        uow.console_sessions.create(session("old", at=T0))
        uow.console_sessions.create(session("old-revoked", at=T0))
        uow.console_sessions.revoke("old-revoked", T0, "signed out")
        uow.console_sessions.create(session("touched", at=T0))
        uow.console_sessions.touch("touched", T0 + timedelta(hours=2))
        uow.console_sessions.create(session("new", at=T0 + timedelta(hours=3)))

    await store.write(seed)
    cutoff = T0 + timedelta(hours=1)
    assert await store.write(lambda uow: uow.console_sessions.prune(cutoff)) == 2
    left = [h for h in ("old", "old-revoked", "touched", "new") if await get(store, h)]
    assert left == ["touched", "new"]


async def test_a_session_rolls_back_with_its_job(store: Store) -> None:
    def job(uow: UnitOfWork) -> None:
        uow.console_sessions.create(session())
        raise RuntimeError("sign-in failed later")

    with pytest.raises(RuntimeError):
        await store.write(job)
    assert await get(store) is None
