"""The SQLite outbox bounds how far one claim walks once it has a row, and
says so when it had to walk past the bound to find one."""

from __future__ import annotations

import logging

import pytest

from signoff.store.ports import Store
from signoff.store.sqlite import outbox

from .factories import at, outbox_message

pytestmark = pytest.mark.anyio


@pytest.fixture(autouse=True)
def small_scan(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(outbox, "MAX_SCAN", 3)


async def add_not_due(store: Store, count: int) -> None:
    await store.write(lambda uow: uow.outbox.add([
        outbox_message(f"m-{i}", aggregate_id=None, next_attempt_at=at(99)) for i in range(count)
    ]))


async def add_due(store: Store, *message_ids: str) -> None:
    await store.write(lambda uow: uow.outbox.add([
        outbox_message(m, aggregate_id=None) for m in message_ids
    ]))


async def claim(store: Store, owner: str) -> list[str]:
    claimed = await store.write(lambda uow: uow.outbox.claim(owner, at(0), at(5), 100))
    return [m.message_id for m in claimed]


async def test_claim_walks_past_the_bound_until_it_finds_a_row_and_warns(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    await add_not_due(store, 5)
    await add_due(store, "due", "due-2")
    with caplog.at_level(logging.WARNING, logger="signoff.store"):
        assert await claim(store, "relay-a") == ["due"]
    assert "outbox claim scanned 6 pending rows (cap 3)" in caplog.text


async def test_claim_stops_at_the_bound_once_it_has_a_row(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    await add_due(store, "due")
    await add_not_due(store, 5)
    await add_due(store, "far")
    with caplog.at_level(logging.WARNING, logger="signoff.store"):
        assert await claim(store, "relay-a") == ["due"]  # "far" is past the bound
    assert "outbox claim scanned" not in caplog.text
    assert await claim(store, "relay-b") == ["far"]  # with nothing chosen, it walks on
