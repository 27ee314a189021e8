"""kill -9 mid-command, at several points, then check nothing is torn.

A worker process runs a workload (allowed commands, asks and approvals) and
SIGKILLs itself at an injected point. After a restart: no event without its
outbox row, no outbox row without its event, every proposal in a status its
records agree with, the hash chain intact, and the app carries on.
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

import anyio
import pytest

from signoff.server.app import Database, Settings, build_app
from signoff.store.records import ProposalRecord
from tests.databases import cases_on_both, query, scalar

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
POINTS = [
    "commit.after_append:1",
    "commit.after_append:4",
    "writer.before_commit:3",
    "writer.before_commit:8",
    "writer.after_commit:2",
    "writer.after_commit:9",
]
# One of each kind on PostgreSQL: killed mid-transaction (the server rolls
# back when the connection drops), just before the commit, just after it.
ON_POSTGRES = ["commit.after_append:4", "writer.before_commit:8", "writer.after_commit:2"]


def check_invariants(db: Database) -> None:
    orphan_events = scalar(
        db,
        "SELECT COUNT(*) FROM events e LEFT JOIN outbox o ON o.message_id = e.event_id "
        "WHERE o.message_id IS NULL",
    )
    orphan_rows = scalar(
        db,
        "SELECT COUNT(*) FROM outbox o LEFT JOIN events e ON e.event_id = o.message_id "
        "WHERE e.event_id IS NULL AND o.topic NOT LIKE 'approval.%'",
    )
    proposals = [
        ProposalRecord.model_validate_json(d) for (d,) in query(db, "SELECT doc FROM proposals")
    ]
    event_ids = {e for (e,) in query(db, "SELECT event_id FROM events")}
    assert (orphan_events, orphan_rows) == (0, 0)
    for p in proposals:
        assert p.status != "approved", f"{p.proposal_id} approved but never executed"
        if p.status == "executed":
            assert p.event_ids, p.proposal_id
            assert set(p.event_ids) <= event_ids, p.proposal_id
        # A final proposal is its command's result: stamped when it became final.
        if p.status in {"executed", "rejected", "conflict", "failed", "expired"}:
            assert p.updated_at >= p.created_at, p.proposal_id


@cases_on_both("point", POINTS, postgres=ON_POSTGRES)
async def test_a_killed_process_leaves_a_consistent_store(db: Database, point: str) -> None:
    app = await build_app(Settings(db=db))
    await app.seed_if_empty()
    await app.close()

    env = {**os.environ, "SIGNOFF_CRASH_AT": point}
    with anyio.fail_after(120):
        worker = await anyio.run_process(
            [sys.executable, "-m", "tests.core.worker", "workload", str(db), "20"],
            cwd=ROOT, env=env, check=False,
        )
    assert worker.returncode == -signal.SIGKILL, worker.stderr.decode()

    check_invariants(db)
    app = await build_app(Settings(db=db))
    try:
        from signoff.server.ops.audit import verify_chain

        report = await app.store.read(verify_chain)
        assert report.ok, report
        agent = app.principals.get("agent:triage")
        assert agent is not None
        receipt = await app.proposals.submit(
            agent.facts("acme"),
            "brief.create",
            {"case_id": "case-acme-002", "summary": "after the crash", "confidence": 0.9},
        )
        assert receipt.status == "executed"
    finally:
        await app.close()
    check_invariants(db)
