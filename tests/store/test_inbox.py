"""Inbox: a consumer's dedup of the messages it has handled."""

from __future__ import annotations

import pytest

from signoff.store.ports import Store, UnitOfWork

from .factories import at

pytestmark = pytest.mark.anyio


async def test_record_is_true_once_per_consumer_and_message(store: Store) -> None:
    async def first_time(consumer: str, message_id: str) -> bool:
        return await store.write(lambda uow: uow.inbox.record(consumer, message_id, at(0)))

    assert await first_time("mailer", "m-1") is True
    assert await first_time("mailer", "m-1") is False
    assert await first_time("mailer", "m-2") is True
    assert await first_time("archiver", "m-1") is True
    assert await first_time("archiver", "m-1") is False


async def test_record_rolls_back_with_the_consumers_effect(store: Store) -> None:
    """Dedup is in the same transaction as the effect: if handling fails,
    the message is not marked handled and the redelivery is processed."""

    def failing(uow: UnitOfWork) -> None:
        assert uow.inbox.record("mailer", "m-1", at(0))
        raise RuntimeError("effect failed")

    with pytest.raises(RuntimeError):
        await store.write(failing)
    assert await store.write(lambda uow: uow.inbox.record("mailer", "m-1", at(1))) is True


async def test_handled_lists_who_handled_which_message_and_when(store: Store) -> None:
    def job(uow: UnitOfWork) -> None:
        uow.inbox.record("mailer", "m-1", at(2))
        uow.inbox.record("archiver", "m-1", at(1))
        uow.inbox.record("mailer", "m-2", at(1))
        uow.inbox.record("mailer", "m-3", at(0))

    await store.write(job)
    assert await store.read(lambda uow: uow.inbox.handled(["m-1", "m-2", "nope"])) == [
        ("archiver", "m-1", at(1)), ("mailer", "m-2", at(1)), ("mailer", "m-1", at(2)),
    ]
    assert await store.read(lambda uow: uow.inbox.handled([])) == []
