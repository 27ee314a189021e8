"""What the reviewer tests share: an app on a real SQLite file whose clock is
near the real one (the CLI opens the same file with the system clock), the
CLI run on a worker thread, and a snapshot of every table a refusal must
leave alone."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import anyio.to_thread
from typer.testing import CliRunner, Result

from signoff.server.app import App
from signoff.server.clock import FixedClock
from tests.conftest import principal

CASE = "case-acme-001"
TABLES = ("events", "proposals", "proposal_events", "decisions", "votes", "outbox",
          "read_models")


def real_clock(offset: timedelta = timedelta(0)) -> FixedClock:
    """A fixed clock at (real now + offset), to the second."""
    return FixedClock((datetime.now(UTC) + offset).replace(microsecond=0))


async def case_version(app: App, case_id: str = CASE) -> int:
    return await app.store.read(lambda uow: uow.events.version("acme", "case", case_id))


async def pending(app: App, proposer: str, command: str, **arguments: Any) -> str:
    """Submit a proposal that the demo policy holds for approval; its id."""
    receipt = await app.proposals.submit(principal(app, proposer), command, arguments)
    assert receipt.status == "pending_approval", receipt
    assert receipt.proposal_id is not None
    return receipt.proposal_id


async def escalation(app: App) -> str:
    return await pending(app, "agent:triage", "case.escalate", case_id=CASE,
                         expected_version=await case_version(app), confidence=0.8,
                         evidence_refs=["ev-acme-001-a", "ev-acme-001-b"],
                         rationale="Fee schedule and recorded call contradict each other.")


async def closure(app: App) -> str:
    return await pending(app, "user:carol", "case.close", case_id=CASE,
                         expected_version=await case_version(app), confidence=0.9,
                         rationale="Settled with the firm.")


def snapshot(db: Path) -> list[tuple[Any, ...]]:
    """Every row of every table a vote touches: equal snapshots, nothing written."""
    with sqlite3.connect(db) as conn:
        return [(table, *row) for table in TABLES
                for row in conn.execute(f"SELECT * FROM {table} ORDER BY 1, 2")]


async def cli(*args: str) -> Result:
    """The real CLI, on a worker thread (each command runs its own event loop)."""
    from signoff.server.cli import app as signoff

    def run() -> Result:
        return CliRunner().invoke(signoff, list(args), env={"COLUMNS": "240"})

    return await anyio.to_thread.run_sync(run)


def json_out(result: Result) -> list[dict[str, Any]]:
    return [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
