"""The tables that hold facts refuse UPDATE and DELETE in the database itself,
so neither a bug nor a hand-typed statement can rewrite history."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from signoff.store.ports import UnitOfWork
from signoff.store.sqlite.store import SqliteStore

from .factories import (
    command_result,
    decision,
    event,
    idempotency,
    proposal,
    proposal_event,
    runtime_entry,
    vote,
)

pytestmark = pytest.mark.anyio

# Spelled out, not imported from the schema: dropping one there must fail here.
APPEND_ONLY = (
    "events", "proposal_events", "decisions", "votes", "idempotency", "command_results",
    "runtime_log",
)
STATEMENTS = {
    "update": "UPDATE {table} SET tenant_id = 'forged'",
    "delete": "DELETE FROM {table}",
}


def one_of_each(uow: UnitOfWork) -> None:
    uow.events.append([event("case-1", 1)])
    uow.proposals.add(proposal())
    uow.proposals.add_event(proposal_event("prop-1", 1))
    uow.proposals.add_decision(decision())
    uow.proposals.add_vote(vote())
    uow.commands.remember(idempotency())
    uow.commands.add_result(command_result())
    uow.runtime.append([runtime_entry("e-1", run_id="run-1")])


@pytest.fixture
async def filled(tmp_path: Path) -> Path:
    path = tmp_path / "signoff.db"
    async with SqliteStore(path) as store:
        await store.write(one_of_each)
    return path


@pytest.mark.parametrize("operation", list(STATEMENTS))
@pytest.mark.parametrize("table", APPEND_ONLY)
async def test_history_cannot_be_rewritten(filled: Path, table: str, operation: str) -> None:
    with closing(sqlite3.connect(filled, isolation_level=None)) as conn:
        before = conn.execute(f"SELECT * FROM {table}").fetchall()
        assert len(before) == 1
        with pytest.raises(sqlite3.IntegrityError, match=f"{table} is append-only"):
            conn.execute(STATEMENTS[operation].format(table=table))
        assert conn.execute(f"SELECT * FROM {table}").fetchall() == before


async def test_current_state_tables_stay_writable(filled: Path) -> None:
    """Proposals (current state) change status; only their history is frozen."""
    with closing(sqlite3.connect(filled, isolation_level=None)) as conn:
        conn.execute("UPDATE proposals SET status = 'approved'")
        assert conn.execute("SELECT status FROM proposals").fetchall() == [("approved",)]
