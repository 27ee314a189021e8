"""`Store.changes()`: a commit that readers wait for wakes a waiter long
before its poll would, on every adapter; commits nobody waits for, and jobs
that rolled back, wake nobody.

A waiter here polls every 30 s and must wake within 5: it woke because it
was told. "Wakes nobody" is a quiet half second (PostgreSQL tells within
milliseconds; SQLite before the write returns)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import anyio
import pytest

from signoff.store.ports import Changes, Store, UnitOfWork
from signoff.store.records import ConsoleSession
from signoff.store.sqlite.store import SqliteStore
from signoff.store.wakeups import Wakeups, rest

from .factories import T0, at, event, outbox_message, proposal, proposal_event, runtime_entry

pytestmark = pytest.mark.anyio

POLL = 30.0  # what a waiter would wait without being told
TOLD = 5.0  # how soon it must wake when told
QUIET = 0.5


class Boom(Exception):
    pass


async def woken(changes: Changes) -> bool:
    with anyio.fail_after(TOLD):
        return await changes.wait(POLL)


async def quiet(changes: Changes) -> bool:
    return not await changes.wait(QUIET)


Job = Callable[[UnitOfWork], object]
WAKING: dict[str, Job] = {
    "events appended": lambda uow: uow.events.append([event("case-1", 1)]),
    "outbox rows added": lambda uow: uow.outbox.add([outbox_message("m-1")]),
    "a proposal made": lambda uow: uow.proposals.add(proposal("p-1")),
    "a proposal's lifecycle": lambda uow: uow.proposals.add_event(proposal_event("p-0", 1)),
}


@pytest.mark.parametrize("job", list(WAKING), ids=list(WAKING))
async def test_a_commit_readers_wait_for_wakes_a_waiter(store: Store, job: str) -> None:
    changes = store.changes()
    await store.write(WAKING[job])
    assert await woken(changes)
    assert await quiet(changes)  # told once, not again


async def test_a_waiter_made_after_the_commit_is_not_woken_by_it(store: Store) -> None:
    await store.write(WAKING["events appended"])
    await anyio.sleep(0.2)  # PostgreSQL: let the notification arrive first
    assert await quiet(store.changes())


async def test_commits_nobody_waits_for_wake_nobody(store: Store) -> None:
    await store.write(lambda uow: uow.outbox.add([outbox_message("m-1")]))
    await anyio.sleep(0.2)
    changes = store.changes()

    def unwatched(uow: UnitOfWork) -> None:
        uow.checkpoints.set("projection:x", 0)
        uow.runtime.append([runtime_entry("r-1")])
        uow.rates.add("agent-1", "run-1", T0)
        uow.console_sessions.create(ConsoleSession(
            session_hash="h" * 64, principal_id="user:alice", created_at=T0, last_seen_at=T0))
        uow.read_models.writer("acme", "cases").put("case-1", {"open": True})

    await store.write(unwatched)
    # A relay's claim and settling: the rows were already told of.
    [claimed] = await store.write(lambda uow: uow.outbox.claim("relay", T0, at(1), 10))
    await store.write(lambda uow: uow.outbox.complete("relay", claimed.message_id, T0))
    assert await quiet(changes)


async def test_a_job_that_rolled_back_wakes_nobody(store: Store) -> None:
    changes = store.changes()

    def broken(uow: UnitOfWork) -> None:
        uow.events.append([event("case-1", 1)])
        uow.outbox.add([outbox_message("m-1")])
        raise Boom

    with pytest.raises(Boom):
        await store.write(broken)
    assert await quiet(changes)


async def test_rows_claimable_again_wake_a_waiter_a_failed_attempt_does_not(
    store: Store,
) -> None:
    """Given back (a relay stopping) or retried from dead: a relay may take
    them now. A failed attempt is due later; the relays' poll finds it."""
    await store.write(lambda uow: uow.outbox.add([outbox_message("m-1")]))
    await anyio.sleep(0.2)
    changes = store.changes()

    await store.write(lambda uow: uow.outbox.claim("relay", T0, at(1), 10))
    await store.write(lambda uow: uow.outbox.release("relay", ["m-1"]))
    assert await woken(changes)

    await store.write(lambda uow: uow.outbox.claim("relay", T0, at(1), 10))
    await store.write(lambda uow: uow.outbox.fail("relay", "m-1", "down", at(2), dead=False))
    assert await quiet(changes)

    await store.write(lambda uow: uow.outbox.claim("relay", at(2), at(3), 10))
    await store.write(lambda uow: uow.outbox.fail("relay", "m-1", "down", None, dead=True))
    assert await quiet(changes)
    await store.write(lambda uow: uow.outbox.retry("m-1"))
    assert await woken(changes)


async def test_closing_the_store_wakes_its_waiters(store: Store) -> None:
    changes = store.changes()
    async with anyio.create_task_group() as tg:
        tg.start_soon(woken, changes)
        await anyio.sleep(0.05)
        await store.close()


async def test_on_sqlite_a_job_rolled_back_beside_others_in_a_batch_wakes_nobody(
    tmp_path: Path,
) -> None:
    """Group commit: the jobs of one batch commit together, each in its own
    savepoint. One that appended and then failed leaves no wake behind."""
    async with SqliteStore(tmp_path / "signoff.db", synchronous="NORMAL") as store:
        await _batch_with_a_failed_job(store)


async def _batch_with_a_failed_job(store: SqliteStore) -> None:
    changes = store.changes()
    gate = threading.Event()

    def hold(uow: UnitOfWork) -> None:  # keeps the writer busy while two jobs queue
        gate.wait(TOLD)

    def broken(uow: UnitOfWork) -> None:
        uow.events.append([event("case-1", 1)])
        raise Boom

    def unwatched(uow: UnitOfWork) -> None:
        uow.checkpoints.set("projection:x", 0)

    held = store.write(hold)
    await anyio.sleep(0.1)  # the writer has taken it, alone
    batches = store.batches
    failing, fine = store.write(broken), store.write(unwatched)
    gate.set()
    await held
    with pytest.raises(Boom):
        await failing
    await fine
    assert store.batches == batches + 2  # the held job, then the two together
    assert await quiet(changes)


async def test_a_commit_after_a_quiet_spell_is_passed_at_once() -> None:
    """No linger before the first pass nor after one longer ago than the
    linger: a lone commit's delivery (or an inline gateway call) waits for
    no other commit."""
    wakeups = Wakeups()
    changes, stop = wakeups.changes(), anyio.Event()
    wakeups.signal()
    with anyio.fail_after(TOLD):
        assert await rest(changes, stop, POLL, linger=POLL)  # the first pass
    await anyio.sleep(1.2)  # quiet for longer than the next linger

    async def later() -> None:
        await anyio.sleep(0.5)
        wakeups.signal()

    async with anyio.create_task_group() as tg:
        wakeups.signal()
        tg.start_soon(later)
        assert await rest(changes, stop, POLL, linger=1.0)
        await anyio.sleep(0.8)
    assert await changes.wait(0)  # the later commit came after the pass began


async def test_a_worker_woken_soon_after_a_pass_lingers_and_takes_what_came_meanwhile(
) -> None:
    wakeups = Wakeups()
    changes, stop = wakeups.changes(), anyio.Event()
    wakeups.signal()
    assert await rest(changes, stop, POLL, linger=1.0)  # the first pass, at once

    async def commits() -> None:
        await anyio.sleep(0.05)
        wakeups.signal()
        await anyio.sleep(0.2)  # within the linger
        wakeups.signal()

    async with anyio.create_task_group() as tg:
        tg.start_soon(commits)
        with anyio.fail_after(TOLD):
            assert await rest(changes, stop, POLL, linger=1.0)
    assert not await changes.wait(0)  # the second commit is the pass's to read


async def test_a_resting_worker_stops_at_once_lingering_or_not() -> None:
    wakeups = Wakeups()
    changes, stop = wakeups.changes(), anyio.Event()
    wakeups.signal()
    assert await rest(changes, stop, POLL)  # a pass just now: the next wake lingers
    with anyio.fail_after(TOLD):
        async with anyio.create_task_group() as tg:
            tg.start_soon(lambda: rest(changes, stop, POLL, linger=POLL))
            await anyio.sleep(0.05)
            wakeups.signal()  # woken: it lingers...
            await anyio.sleep(0.05)
            stop.set()  # ...until stopped
        assert not await rest(changes, stop, POLL)  # stopped: does not wait at all
