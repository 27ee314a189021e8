"""RateCounters: proposals per principal (across tenants), per run and over
the last hour, kept as counters."""

from __future__ import annotations

import sqlite3
from datetime import timedelta, timezone
from pathlib import Path

import pytest

from signoff.store.ports import Store, UnitOfWork
from signoff.store.records import ProposalRecord
from signoff.store.sqlite import schema
from signoff.store.sqlite.rate_counters import minute_of
from signoff.store.sqlite.rows import ts
from signoff.store.sqlite.store import SqliteStore
from signoff.store.sqlite.unit_of_work import SqliteUnitOfWork

from .factories import OTHER_TENANT, T0, at, proposal
from .tables import count_rows

pytestmark = pytest.mark.anyio


async def made(store: Store, *proposals: tuple[str, str | None, float]) -> None:
    """Count proposals given as (principal, run id, minutes after T0)."""
    def job(uow: UnitOfWork) -> None:
        for principal_id, run_id, minutes in proposals:
            uow.rates.add(principal_id, run_id, at(minutes))

    await store.write(job)


async def test_nothing_counted_reads_zero(store: Store) -> None:
    assert await store.read(lambda uow: (uow.rates.in_run("agent-1", "run-1"),
                                         uow.rates.in_run("agent-1", None),
                                         uow.rates.last_hour("agent-1", T0))) == (0, 0, 0)


async def test_runs_are_counted_per_principal_and_run_id(store: Store) -> None:
    await made(store, ("agent-1", "run-1", 0), ("agent-1", "run-1", 1), ("agent-1", "run-2", 2),
               ("agent-2", "run-1", 3), ("agent-1", None, 4), ("agent-1", None, 5))

    def runs(uow: UnitOfWork) -> list[int]:
        return [uow.rates.in_run("agent-1", "run-1"), uow.rates.in_run("agent-1", "run-2"),
                uow.rates.in_run("agent-2", "run-1"), uow.rates.in_run("agent-1", None),
                uow.rates.in_run("agent-2", None), uow.rates.in_run("agent-1", "run-9")]

    assert await store.read(runs) == [2, 1, 1, 2, 0, 0]


async def test_the_last_hour_runs_from_the_minute_an_hour_before_now(store: Store) -> None:
    await made(store, ("agent-1", "r", 0), ("agent-1", "r", 0.99), ("agent-1", "r", 30),
               ("agent-1", "r", 59.5), ("agent-2", "r", 30))

    async def last_hour(minutes: float, principal_id: str = "agent-1") -> int:
        return await store.read(lambda uow: uow.rates.last_hour(principal_id, at(minutes)))

    assert await last_hour(59.9) == 4
    assert await last_hour(60) == 4  # an hour after, exactly: still counted
    assert await last_hour(60.99) == 4  # the minute an hour before now's is still in
    assert await last_hour(61) == 2
    assert await last_hour(119.99) == 1
    assert await last_hour(120) == 0
    assert await last_hour(61, "agent-2") == 1


async def test_minutes_are_instants_whatever_the_offset(store: Store) -> None:
    plus_two, minus_five = timezone(timedelta(hours=2)), timezone(timedelta(hours=-5))
    await made(store, ("agent-1", "r", 0))
    await store.write(lambda uow: uow.rates.add("agent-1", "r", at(30).astimezone(plus_two)))
    now = at(61).astimezone(minus_five)
    assert await store.read(lambda uow: uow.rates.last_hour("agent-1", now)) == 1


async def test_counts_roll_back_with_their_job(store: Store) -> None:
    await made(store, ("agent-1", "run-1", 0))

    def job(uow: UnitOfWork) -> None:
        uow.rates.add("agent-1", "run-1", at(1))
        raise RuntimeError("the proposal was not recorded")

    with pytest.raises(RuntimeError):
        await store.write(job)
    assert await store.read(lambda uow: (uow.rates.in_run("agent-1", "run-1"),
                                         uow.rates.last_hour("agent-1", at(1)))) == (1, 1)


async def test_minutes_out_of_every_window_are_dropped(store: Store) -> None:
    """A principal active for days keeps about an hour of minute rows."""
    await made(store, *(("agent-1", "r", float(m)) for m in range(0, 3000, 7)))

    minute_rows = await store.read(lambda uow: count_rows(uow, "proposal_counts_by_minute"))
    assert minute_rows <= 61 // 7 + 1
    assert await store.read(lambda uow: uow.rates.last_hour("agent-1", at(2996))) == 9


def _insert(conn: sqlite3.Connection, p: ProposalRecord) -> None:
    conn.execute(
        "INSERT INTO proposals (proposal_id, tenant_id, status, command_type, actor_id, run_id, "
        "created_at, doc) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (p.proposal_id, p.tenant_id, p.status, p.command_type, p.actor.id, p.run_id,
         ts(p.created_at), p.model_dump_json()))


async def test_the_migration_counts_the_proposals_already_there(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "old.db"
    current = schema.MIGRATIONS
    with monkeypatch.context() as release:  # a database of the release before the counters
        release.setattr(schema, "MIGRATIONS", current[:current.index(schema.V5)])
        await (await SqliteStore(path).open()).close()
    with sqlite3.connect(path) as conn:
        for n, (actor, run, minutes, tenant) in enumerate([
            ("agent-1", "run-1", 0.0, "acme"), ("agent-1", "run-1", 50.5, OTHER_TENANT),
            ("agent-1", None, 100.0, "acme"), ("agent-1", None, 130.99, "acme"),
            ("agent-2", "run-1", 131.0, "acme"),
        ]):
            created = at(minutes).astimezone(timezone(timedelta(hours=2)))
            _insert(conn, proposal(f"p{n}", actor_id=actor, run_id=run, created_at=created,
                                   tenant_id=tenant))
    store = await SqliteStore(path).open()
    try:
        def counts(uow: UnitOfWork) -> list[int]:
            r = uow.rates
            return [r.in_run("agent-1", "run-1"), r.in_run("agent-1", None),
                    r.in_run("agent-2", "run-1"), r.last_hour("agent-1", at(131)),
                    r.last_hour("agent-1", at(160.5)), r.last_hour("agent-1", at(161)),
                    r.last_hour("agent-2", at(131))]

        assert await store.read(counts) == [2, 2, 1, 2, 2, 1, 1]

        def recent_minutes(uow: UnitOfWork) -> list[tuple[str, int]]:
            assert isinstance(uow, SqliteUnitOfWork)
            rows = uow.sql.all("SELECT principal_id, minute FROM proposal_counts_by_minute "
                               "ORDER BY 1, 2")
            return [(str(p), int(m) - minute_of(T0)) for p, m in rows]

        # Only the hour before the newest proposal: older minutes are never read.
        assert await store.read(recent_minutes) == [
            ("agent-1", 100), ("agent-1", 130), ("agent-2", 131)]
    finally:
        await store.close()
