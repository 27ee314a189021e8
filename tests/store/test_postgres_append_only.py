"""PostgreSQL: the tables that hold facts refuse UPDATE, DELETE and TRUNCATE
in the database itself, on any connection; a final proposal refuses every
change and no proposal is deleted. Through the store the refusal is a
`ConstraintViolation`; on a plain psycopg connection it is PostgreSQL's."""

from __future__ import annotations

from collections.abc import AsyncIterator

import psycopg
import pytest
from psycopg import errors

from signoff.store.errors import ConstraintViolation
from signoff.store.ports import UnitOfWork
from signoff.store.postgres.connection import Connection, connect
from signoff.store.postgres.migrations import APPEND_ONLY
from signoff.store.postgres.store import PostgresStore
from signoff.store.postgres.unit_of_work import PostgresUnitOfWork

from .factories import decision, event, proposal, proposal_event, runtime_entry, vote
from .postgres import scratch_schema

pytestmark = pytest.mark.anyio

# Spelled out, not imported from the schema: dropping one there must fail here.
FACTS = ("events", "proposal_events", "decisions", "votes", "runtime_log")
STATEMENTS = {
    "update": "UPDATE {t} SET tenant_id = 'forged'",
    "delete": "DELETE FROM {t}",
    "truncate": "TRUNCATE {t}",
}


def one_of_each(uow: UnitOfWork) -> None:
    uow.events.append([event("case-1", 1)])
    uow.proposals.add(proposal())
    uow.proposals.add(proposal("prop-done", status="executed"))
    uow.proposals.add_event(proposal_event("prop-1", 1))
    uow.proposals.add_decision(decision())
    uow.proposals.add_vote(vote())
    uow.runtime.append([runtime_entry("e-1", run_id="run-1")])


@pytest.fixture
async def filled() -> AsyncIterator[tuple[PostgresStore, str]]:
    with scratch_schema() as url:
        store = await PostgresStore(url).open()
        try:
            await store.write(one_of_each)
            yield store, url
        finally:
            await store.close()


@pytest.fixture
async def attacker(filled: tuple[PostgresStore, str]) -> AsyncIterator[Connection]:
    """A plain connection on the same schema, as someone with psql has."""
    with connect(filled[1]) as conn:
        yield conn


def test_the_schema_guards_every_fact_table() -> None:
    assert set(APPEND_ONLY) == set(FACTS)


def count(conn: Connection, table: str) -> int:
    row = conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()
    return int(row[0]) if row else 0


@pytest.mark.parametrize("table", FACTS)
@pytest.mark.parametrize("how", list(STATEMENTS))
async def test_a_fact_cannot_be_changed_or_removed_on_any_connection(
    attacker: Connection, table: str, how: str
) -> None:
    with pytest.raises(errors.RestrictViolation, match=f"{table} is append-only"):
        attacker.execute(STATEMENTS[how].format(t=table))
    assert count(attacker, table) == 1


@pytest.mark.parametrize("table", FACTS)
async def test_through_the_store_the_refusal_is_a_constraint_violation(
    filled: tuple[PostgresStore, str], table: str
) -> None:
    def forge(uow: UnitOfWork) -> None:
        assert isinstance(uow, PostgresUnitOfWork)
        uow.sql.run(f"DELETE FROM {table}")

    with pytest.raises(ConstraintViolation, match=f"{table} is append-only"):
        await filled[0].write(forge)


async def test_a_final_proposal_never_changes_and_none_is_deleted(attacker: Connection) -> None:
    with pytest.raises(errors.RestrictViolation, match="a final proposal never changes"):
        attacker.execute("UPDATE proposals SET status = 'failed' WHERE proposal_id = 'prop-done'")
    with pytest.raises(errors.RestrictViolation, match="identity and idempotency key"):
        attacker.execute("UPDATE proposals SET tenant_id = 'x' WHERE proposal_id = 'prop-1'")
    for statement in ("DELETE FROM proposals WHERE proposal_id = 'prop-1'", "TRUNCATE proposals"):
        with pytest.raises(errors.RestrictViolation, match="a proposal is never deleted"):
            attacker.execute(statement)
    assert count(attacker, "proposals") == 2


async def test_a_proposal_still_under_way_moves_on(attacker: Connection) -> None:
    attacker.execute("UPDATE proposals SET status = 'approved' WHERE proposal_id = 'prop-1'")
    row = attacker.execute("SELECT status FROM proposals WHERE proposal_id = 'prop-1'").fetchone()
    assert row == ("approved",)


async def test_the_mutable_tables_stay_writable(attacker: Connection) -> None:
    attacker.execute("INSERT INTO checkpoints (name, position) VALUES ('c', 1)")
    attacker.execute("UPDATE checkpoints SET position = 2")
    attacker.execute("DELETE FROM checkpoints")
    assert count(attacker, "checkpoints") == 0
    assert isinstance(attacker, psycopg.Connection)
