"""Schema V7 on a database written before it: the idempotency keys and the
command results move onto the proposals they belong to, lookups read real
columns, and the new guards hold from then on."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from signoff.store.sqlite import schema
from signoff.store.sqlite.store import SqliteStore

from .factories import outbox_message, proposal

pytestmark = pytest.mark.anyio


def v6_database(path: Path) -> None:
    """A V6 database holding what V6 wrote for two proposals: one still
    waiting, one executed with its idempotency record and command result."""
    with closing(sqlite3.connect(path, isolation_level=None)) as conn:
        conn.execute("BEGIN")
        for statement in schema._statements("".join(schema.MIGRATIONS[:6])):
            conn.execute(statement)
        conn.execute("PRAGMA user_version = 6")
        for p in (proposal("p-wait", idempotency_key="k-wait"),
                  proposal("p-done", status="executed", idempotency_key="k-done")):
            conn.execute(
                "INSERT INTO proposals (proposal_id, tenant_id, status, command_type, actor_id,"
                " run_id, created_at, expires_at, doc) VALUES (?, ?, ?, ?, ?, ?, ?, NULL, ?)",
                (p.proposal_id, p.tenant_id, p.status, p.command_type, p.actor.id, p.run_id,
                 p.created_at.isoformat(), p.model_dump_json()))
            conn.execute(
                "INSERT INTO idempotency (tenant_id, actor_id, key, payload_digest, proposal_id)"
                " VALUES (?, ?, ?, ?, ?)", (p.tenant_id, p.actor.id, p.idempotency_key,
                                            p.payload_digest, p.proposal_id))
        conn.execute("INSERT INTO command_results (command_id, proposal_id, tenant_id, doc) "
                     "VALUES ('cmd-p-done', 'p-done', 'acme', '{}')")
        m = outbox_message("m-1", causation_id="cmd-p-done")
        conn.execute("INSERT INTO outbox (message_id, tenant_id, topic, doc) VALUES (?, ?, ?, ?)",
                     (m.message_id, m.tenant_id, m.topic, m.model_dump_json()))
        conn.execute("COMMIT")


async def test_v7_moves_keys_and_results_onto_the_proposals(tmp_path: Path) -> None:
    path = tmp_path / "signoff.db"
    v6_database(path)

    async with SqliteStore(path) as store:
        found = await store.read(lambda uow: (
            uow.proposals.by_idempotency_key("acme", "agent-1", "k-done"),
            uow.proposals.by_command("cmd-p-wait", "acme"),
            [p.proposal_id for p in uow.proposals.by_correlation("corr-p-done")],
            [m.message_id for m in uow.outbox.by_causation("cmd-p-done")],
        ))
    done, waiting, correlated, caused = found
    assert done is not None
    assert done.proposal_id == "p-done"
    assert waiting is not None
    assert waiting.proposal_id == "p-wait"
    assert (correlated, caused) == (["p-done"], ["m-1"])

    with closing(sqlite3.connect(path, isolation_level=None)) as conn:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        assert not {"idempotency", "command_results"} & tables
        with pytest.raises(sqlite3.IntegrityError, match="final proposal never changes"):
            conn.execute("UPDATE proposals SET status = 'failed' WHERE proposal_id = 'p-done'")
        with pytest.raises(sqlite3.IntegrityError, match="idempotency key never change"):
            conn.execute("UPDATE proposals SET idempotency_key = 'x' WHERE proposal_id = 'p-wait'")
        with pytest.raises(sqlite3.IntegrityError, match="never deleted"):
            conn.execute("DELETE FROM proposals WHERE proposal_id = 'p-wait'")
        with pytest.raises(sqlite3.IntegrityError, match="a row with this proposal_id exists"):
            conn.execute("REPLACE INTO proposals SELECT * FROM proposals WHERE "
                         "proposal_id = 'p-done'")
        conn.execute("UPDATE proposals SET status = 'approved' WHERE proposal_id = 'p-wait'")
