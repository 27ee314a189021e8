"""The executor: exactly once under races, all or nothing on failure, and a
second look when the policy changed after the decision."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import anyio
import pytest

from signoff.policies import PrincipalFacts
from signoff.server.app import App, Database, Settings, build_app
from signoff.server.clock import FixedClock, SequentialIds
from signoff.server.services.executor import Execution
from signoff.server.services.lifecycle import Lifecycle
from signoff.store.ports import UnitOfWork
from tests.core.helpers import case_version, pending_escalation, snapshot, table_counts
from tests.databases import both_adapters

pytestmark = [pytest.mark.anyio, both_adapters]

ROOT = Path(__file__).resolve().parents[2]


async def approved_but_not_executed(app: App, agent: PrincipalFacts, n: int) -> list[str]:
    """Proposals parked in `approved`, as if the approving process died before
    its executor ran (a state the services never leave behind on their own)."""
    ids = []
    lifecycle = Lifecycle(app.clock, app.ids)
    for i in range(n):
        receipt = await app.proposals.submit(
            agent,
            "notice.create_draft",
            {"case_id": "case-acme-002", "body": f"draft {i}", "confidence": 0.9},
        )
        assert receipt.status == "executed"
        assert receipt.aggregate_id
        receipt = await app.proposals.submit(
            agent,
            "notice.approve",
            {"draft_id": receipt.aggregate_id, "expected_version": 1, "confidence": 0.9},
        )
        assert receipt.status == "pending_approval"
        assert receipt.proposal_id
        pid = receipt.proposal_id

        def approve(uow: UnitOfWork, pid: str = pid) -> None:
            proposal = uow.proposals.get(pid, None)
            assert proposal is not None
            lifecycle.move(uow, proposal, "approved", actor_id="user:bob")

        await app.store.write(approve)
        ids.append(pid)
    return ids


async def test_two_executors_in_one_process_execute_once(
    app: App, agent: PrincipalFacts, db: Database
) -> None:
    ids = await approved_but_not_executed(app, agent, 5)
    other = await build_app(Settings(db=db, clock=FixedClock()))  # ids must not collide
    try:
        for pid in ids:

            def ours(uow: UnitOfWork, p: str = pid) -> Execution | None:
                return app.executor.run(uow, p)

            def theirs(uow: UnitOfWork, p: str = pid) -> Execution | None:
                return other.executor.run(uow, p)

            a, b = await asyncio.gather(app.store.write(ours), other.store.write(theirs))
            winners = [x for x in (a, b) if x is not None]
            assert len(winners) == 1, (a, b)
            assert [e.event_type for e in winners[0].events] == ["notice.approved"]
    finally:
        await other.close()
    events = await app.store.read(lambda uow: uow.events.read_after(0, 10_000))
    assert sum(e.event_type == "notice.approved" for e in events) == len(ids)


@pytest.mark.slow
async def test_two_executor_processes_on_one_database_execute_once(
    app: App, agent: PrincipalFacts, db: Database
) -> None:
    ids = await approved_but_not_executed(app, agent, 20)
    await app.close()
    command = [sys.executable, "-m", "tests.core.worker", "execute", str(db), *ids]
    outputs: list[list[str]] = []

    async def worker() -> None:
        done = await anyio.run_process(command, cwd=ROOT)  # raises on a non-zero exit
        outputs.append(done.stdout.decode().split())

    with anyio.fail_after(120):
        async with anyio.create_task_group() as group:
            group.start_soon(worker)
            group.start_soon(worker)
    assert sorted(outputs[0] + outputs[1]) == sorted(ids)  # each executed by exactly one
    again = await build_app(Settings(db=db))
    try:
        events = await again.store.read(lambda uow: uow.events.read_after(0, 10_000))
        assert sum(e.event_type == "notice.approved" for e in events) == len(ids)
    finally:
        await again.close()


async def test_a_policy_that_now_denies_rejects_at_execution(
    app: App, agent: PrincipalFacts, alice: PrincipalFacts, tmp_path: Path
) -> None:
    version = await case_version(app, "case-acme-001")
    proposal_id = await pending_escalation(app, agent)
    stricter = tmp_path / "no-escalations.toml"
    stricter.write_text(
        '[[rule]]\nid = "freeze"\ncommands = ["case.escalate"]\n'
        'effect = "deny"\nreason = "escalations are frozen"\n'
    )
    app.gate.reload(stricter, app.domain.command_types())
    result = await app.approvals.approve(alice, proposal_id, digest=None, channel="cli")
    assert result.proposal.status == "rejected"
    assert "escalations are frozen" in result.proposal.status_reason
    assert await case_version(app, "case-acme-001") == version
    decisions = await app.store.read(lambda uow: uow.proposals.decisions(proposal_id))
    assert [(d.stage, d.effect) for d in decisions] == [("submit", "ask"), ("execute", "deny")]


async def test_a_stricter_ask_returns_the_proposal_to_the_queue(
    app: App, agent: PrincipalFacts, alice: PrincipalFacts, bob: PrincipalFacts, tmp_path: Path
) -> None:
    version = await case_version(app, "case-acme-001")
    proposal_id = await pending_escalation(app, agent)
    stricter = tmp_path / "two-keys.toml"
    stricter.write_text(
        '[[rule]]\nid = "two-keys"\ncommands = ["case.escalate"]\neffect = "ask"\n'
        'reason = "two keys now"\n'
        'approvers = { roles = ["supervisor", "legal"], count = 2, distinct = true }\n'
    )
    app.gate.reload(stricter, app.domain.command_types())
    first = await app.approvals.approve(alice, proposal_id, digest=None, channel="cli")
    assert first.proposal.status == "pending_approval"
    assert first.proposal.decision.rule_id == "two-keys"
    assert await case_version(app, "case-acme-001") == version
    second = await app.approvals.approve(bob, proposal_id, digest=None, channel="cli")
    assert second.proposal.status == "executed"


DRAFT = {"case_id": "case-acme-002", "body": "draft", "confidence": 0.9}


async def test_a_proposal_executed_at_once_is_proposed_then_executed(
    app: App, agent: PrincipalFacts
) -> None:
    receipt = await app.proposals.submit(agent, "notice.create_draft", DRAFT)
    assert receipt.status == "executed"
    assert receipt.proposal_id
    proposal_id = receipt.proposal_id
    stream = await app.store.read(lambda uow: uow.proposals.events(proposal_id))
    assert [(e.seq, e.event_type, e.actor_id) for e in stream] == [
        (1, "notice.create_draft.proposed", "agent:triage"),
        (2, "proposal.executed", "system:executor"),
    ]
    assert stream[0].payload["status"] == "approved"
    stored = await app.store.read(lambda uow: uow.proposals.get(proposal_id, "acme"))
    assert stored is not None
    assert stored.event_ids
    assert stream[1].payload == {"from": "approved", "reason": "",
                                 "event_ids": list(stored.event_ids)}


async def test_a_failed_execution_at_once_keeps_its_proposed_entry(
    app: App, agent: PrincipalFacts, monkeypatch: pytest.MonkeyPatch
) -> None:
    def explode(*args: object, **kwargs: object) -> None:
        raise RuntimeError("committer exploded")

    version = await case_version(app, "case-acme-002")
    monkeypatch.setattr(app.committer, "commit", explode)
    receipt = await app.proposals.submit(agent, "notice.create_draft", DRAFT)
    assert receipt.status == "failed"
    assert receipt.proposal_id
    proposal_id = receipt.proposal_id
    stream = await app.store.read(lambda uow: uow.proposals.events(proposal_id))
    assert [(e.seq, e.event_type) for e in stream] == [
        (1, "notice.create_draft.proposed"), (2, "proposal.failed"),
    ]
    assert stream[1].payload["from"] == "approved"
    assert "nothing was committed" in stream[1].payload["reason"]
    stored = await app.store.read(lambda uow: uow.proposals.get(proposal_id, "acme"))
    assert stored is not None
    assert stored.status == "failed"
    assert stored.event_ids == ()
    assert await case_version(app, "case-acme-002") == version


async def test_a_failure_during_commit_leaves_nothing_half_written(
    db: Database, tmp_path: Path
) -> None:
    from tests.core import failing_domain

    app = await build_app(
        Settings(
            db=db,
            domain="tests.core.failing_domain:build_domain",
            clock=FixedClock(),
            ids=SequentialIds(),
        )
    )
    try:
        await app.seed_if_empty()
        agent = app.principals.get("agent:triage")
        carol, alice, bob = (app.principals.get(f"user:{n}") for n in ("carol", "alice", "bob"))
        assert agent
        assert carol
        assert alice
        assert bob
        version = await case_version(app, "case-acme-001")
        receipt = await app.proposals.submit(
            carol.facts("acme"),
            "case.close",
            {"case_id": "case-acme-001", "expected_version": version, "confidence": 0.9},
        )
        assert receipt.proposal_id
        await app.approvals.approve(
            alice.facts("acme"), receipt.proposal_id, digest=None, channel="cli"
        )
        before = table_counts(db)
        failing_domain.FAIL_ON_CLOSE = True
        result = await app.approvals.approve(
            bob.facts("acme"), receipt.proposal_id, digest=None, channel="cli"
        )
        assert result.proposal.status == "failed"
        assert "nothing was committed" in result.proposal.status_reason
        after = table_counts(db)
        assert after["events"] == before["events"]
        assert after["outbox"] == before["outbox"]
        assert await case_version(app, "case-acme-001") == version
        snapshot(db)  # readable: no half-open transaction left behind
    finally:
        failing_domain.FAIL_ON_CLOSE = False
        await app.close()
