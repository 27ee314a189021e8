"""Small readers over the store that tests use to check what was written."""

from __future__ import annotations

from typing import Any

import anyio.to_thread
from typer.testing import CliRunner, Result

from signoff.policies import PrincipalFacts
from signoff.server.app import App, Database
from tests.databases import query, scalar

COUNTED = (
    "events",
    "proposals",
    "proposal_events",
    "decisions",
    "votes",
    "outbox",
)  # not read_models: derived, and filled in the background by the projector


def table_counts(db: Database) -> dict[str, int]:
    return {t: scalar(db, f"SELECT COUNT(*) FROM {t}") for t in COUNTED}


# What a request may change, as columns: the facts and records of decisions.
# Delivery bookkeeping (outbox status, attempts, leases) and read models move
# on their own (the relay and projector run beside a served database) and are
# derived from these, so they are not part of "nothing was written".
FACTS = {
    "events": "*",
    "proposals": "*",
    "proposal_events": "*",
    "decisions": "*",
    "votes": "*",
    "outbox": "message_id, tenant_id, topic, doc",
}


def snapshot(db: Database) -> list[tuple[Any, ...]]:
    """Every fact and decision record, every column: equal snapshots mean the
    request wrote nothing (see FACTS for what is left out, and why)."""
    return [
        (table, *row)
        for table, columns in FACTS.items()
        for row in query(db, f"SELECT {columns} FROM {table} ORDER BY 1, 2")
    ]


async def case_version(app: App, case_id: str, tenant: str = "acme") -> int:
    return await app.store.read(lambda uow: uow.events.version(tenant, "case", case_id))


async def invoke(args: list[str]) -> Result:
    """Run the CLI from an async test: on a worker thread, since each command
    runs its own event loop."""
    from signoff.server.cli import app as cli

    return await anyio.to_thread.run_sync(lambda: CliRunner().invoke(cli, args))


EVIDENCED_CASE = "case-acme-001"  # the demo case with evidence


async def pending_escalation(app: App, agent: PrincipalFacts) -> str:
    version = await case_version(app, EVIDENCED_CASE)
    receipt = await app.proposals.submit(
        agent,
        "case.escalate",
        {
            "case_id": EVIDENCED_CASE,
            "expected_version": version,
            "confidence": 0.8,
            "evidence_refs": ["ev-acme-001-a"],
        },
    )
    assert receipt.status == "pending_approval"
    assert receipt.proposal_id
    return receipt.proposal_id


async def pending_closure(app: App, proposer: PrincipalFacts) -> str:
    version = await case_version(app, EVIDENCED_CASE)
    receipt = await app.proposals.submit(
        proposer,
        "case.close",
        {"case_id": EVIDENCED_CASE, "expected_version": version, "confidence": 0.9},
    )
    assert receipt.status == "pending_approval"
    assert receipt.proposal_id
    return receipt.proposal_id
