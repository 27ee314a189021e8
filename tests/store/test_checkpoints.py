"""Checkpoints: how far each projection or consumer has read the log."""

from __future__ import annotations

import pytest

from signoff.store.ports import Store, UnitOfWork

pytestmark = pytest.mark.anyio


async def test_an_unknown_checkpoint_is_zero(store: Store) -> None:
    assert await store.read(lambda uow: uow.checkpoints.get("cases")) == 0


async def test_set_then_get_and_overwrite(store: Store) -> None:
    await store.write(lambda uow: uow.checkpoints.set("cases", 7))
    await store.write(lambda uow: uow.checkpoints.set("notices", 3))
    assert await store.read(lambda uow: uow.checkpoints.get("cases")) == 7

    await store.write(lambda uow: uow.checkpoints.set("cases", 42))
    await store.write(lambda uow: uow.checkpoints.set("notices", 0))  # a rebuild starts over

    def both(uow: UnitOfWork) -> tuple[int, int]:
        return uow.checkpoints.get("cases"), uow.checkpoints.get("notices")

    assert await store.read(both) == (42, 0)


async def test_a_checkpoint_rolls_back_with_its_job(store: Store) -> None:
    await store.write(lambda uow: uow.checkpoints.set("cases", 5))

    def job(uow: UnitOfWork) -> None:
        uow.checkpoints.set("cases", 9)
        raise RuntimeError("projection failed")

    with pytest.raises(RuntimeError):
        await store.write(job)
    assert await store.read(lambda uow: uow.checkpoints.get("cases")) == 5
