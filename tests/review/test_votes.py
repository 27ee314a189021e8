"""`signoff review approve|reject`: a vote executes at quorum; every refusal
exits 1 with the reason and writes nothing."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from signoff.server.app import App
from signoff.server.clock import FixedClock
from tests.conftest import open_app, principal
from tests.review.helpers import (
    CASE,
    case_version,
    cli,
    closure,
    escalation,
    json_out,
    real_clock,
    snapshot,
)

pytestmark = pytest.mark.anyio


async def votes_of(app: App, proposal_id: str) -> list[tuple[str, str, str]]:
    votes = await app.store.read(lambda uow: uow.proposals.votes(proposal_id))
    return [(v.voter_id, v.verdict, v.channel) for v in votes]


async def test_a_supervisor_approves_an_escalation_and_it_executes(app: App, db: Path) -> None:
    proposal_id = await escalation(app)
    before = await case_version(app)
    result = await cli("review", "approve", proposal_id, "--db", str(db), "--as", "user:alice",
                       "--comment", "evidence holds", "--json")
    assert result.exit_code == 0, result.output
    [outcome] = json_out(result)
    assert outcome["ok"] is True
    assert outcome["status"] == "executed"
    assert outcome["voter_id"] == "user:alice"
    assert outcome["voter_roles"] == ["supervisor"]
    assert outcome["channel"] == "cli"
    assert [e["event_type"] for e in outcome["events"]] == ["case.escalated"]
    assert await case_version(app) == before + 1
    assert await votes_of(app, proposal_id) == [("user:alice", "approve", "cli")]


async def test_closure_needs_a_supervisor_and_legal(app: App, db: Path) -> None:
    proposal_id = await closure(app)
    first = await cli("review", "approve", proposal_id, "--db", str(db), "--as", "user:alice")
    assert first.exit_code == 0, first.output
    assert "pending_approval" in first.stdout
    assert "legal" in first.stdout
    [view] = json_out(await cli("review", "show", proposal_id, "--db", str(db), "--json"))
    assert view["status"] == "pending_approval"
    assert "an approval from legal" in view["still_needed"]
    second = await cli("review", "approve", proposal_id, "--db", str(db), "--as", "user:bob",
                       "--json")
    assert second.exit_code == 0, second.output
    [outcome] = json_out(second)
    assert outcome["status"] == "executed"
    assert [e["event_type"] for e in outcome["events"]] == ["case.closed"]
    assert await votes_of(app, proposal_id) == [
        ("user:alice", "approve", "cli"), ("user:bob", "approve", "cli")]


async def test_reject_needs_a_reason_and_ends_the_proposal(app: App, db: Path) -> None:
    proposal_id = await escalation(app)
    missing = await cli("review", "reject", proposal_id, "--db", str(db), "--as", "user:alice")
    assert missing.exit_code == 2
    untouched = snapshot(db)
    blank = await cli("review", "reject", proposal_id, "--db", str(db), "--as", "user:alice",
                      "--reason", "   ", "--json")
    assert blank.exit_code == 1
    assert json_out(blank)[0]["error"] == "validation_error"
    assert snapshot(db) == untouched
    result = await cli("review", "reject", proposal_id, "--db", str(db), "--as", "user:alice",
                       "--reason", "the call recording is ambiguous", "--json")
    assert result.exit_code == 0, result.output
    [outcome] = json_out(result)
    assert outcome["status"] == "rejected"
    assert outcome["verdict"] == "reject"
    assert "the call recording is ambiguous" in outcome["status_reason"]
    assert outcome["events"] == []


async def refused(db: Path, *args: str) -> dict[str, str]:
    """Run a vote that must be refused: exit 1, a reason, and no write."""
    before = snapshot(db)
    result = await cli("review", *args, "--db", str(db), "--json")
    assert result.exit_code == 1, result.output
    assert snapshot(db) == before
    [error] = json_out(result)
    assert error["ok"] is False
    human = await cli("review", *args, "--db", str(db))
    assert human.exit_code == 1
    assert "refused:" in human.output
    assert snapshot(db) == before
    return error


async def test_an_agent_cannot_vote(app: App, db: Path) -> None:
    error = await refused(db, "approve", await closure(app), "--as", "agent:triage")
    assert error["error"] == "forbidden"
    assert "agents cannot approve" in error["message"]


async def test_the_proposer_cannot_vote(app: App, db: Path) -> None:
    error = await refused(db, "approve", await closure(app), "--as", "user:carol")
    assert "you proposed this" in error["message"]


async def test_a_reviewer_without_the_role_is_refused(app: App, db: Path) -> None:
    error = await refused(db, "approve", await escalation(app), "--as", "user:bob")
    assert error["error"] == "forbidden"
    assert "needs the role supervisor" in error["message"]


async def test_nobody_votes_twice(app: App, db: Path) -> None:
    proposal_id = await closure(app)
    first = await cli("review", "approve", proposal_id, "--db", str(db), "--as", "user:alice")
    assert first.exit_code == 0
    error = await refused(db, "approve", proposal_id, "--as", "user:alice")
    assert "already voted" in error["message"]
    error = await refused(db, "reject", proposal_id, "--as", "user:alice", "--reason", "changed")
    assert "already voted" in error["message"]


async def test_another_tenants_reviewer_does_not_find_it(app: App, db: Path) -> None:
    proposal_id = await escalation(app)
    error = await refused(db, "approve", proposal_id, "--as", "user:dana")
    assert error == {"ok": False, "error": "not_found",
                     "message": f"proposal {proposal_id} not found"}
    unknown = await refused(db, "approve", "prop_unknown", "--as", "user:alice")
    assert unknown["message"] == "proposal prop_unknown not found"


async def test_an_unknown_reviewer_is_bad_usage(app: App, db: Path) -> None:
    proposal_id = await escalation(app)
    before = snapshot(db)
    result = await cli("review", "approve", proposal_id, "--db", str(db), "--as", "user:zed")
    assert result.exit_code == 2
    assert "user:zed" in result.output
    assert snapshot(db) == before


async def test_a_decided_proposal_takes_no_more_votes(app: App, db: Path) -> None:
    proposal_id = await escalation(app)
    await app.approvals.approve(principal(app, "user:alice"), proposal_id, digest=None,
                                channel="cli")
    error = await refused(db, "reject", proposal_id, "--as", "user:carol", "--reason", "late")
    assert error["error"] == "refused"
    assert "is executed, not pending approval" in error["message"]


async def test_a_digest_that_no_longer_matches_is_refused(app: App, db: Path) -> None:
    proposal_id = await escalation(app)
    error = await refused(db, "approve", proposal_id, "--as", "user:alice", "--digest", "0" * 64)
    assert "payload digest differs" in error["message"]
    [view] = json_out(await cli("review", "show", proposal_id, "--db", str(db), "--json"))
    result = await cli("review", "approve", proposal_id, "--db", str(db), "--as", "user:alice",
                       "--digest", view["payload_digest"], "--json")
    assert result.exit_code == 0, result.output
    assert json_out(result)[0]["status"] == "executed"


async def test_an_expired_proposal_is_refused(tmp_path: Path) -> None:
    db = tmp_path / "expired.db"
    # An injected clock 25 hours back: the approval deadline (24 h) is past
    # for the CLI, which reads the real time.
    past = await open_app(db, real_clock(-timedelta(hours=25)))
    try:
        proposal_id = await escalation(past)
    finally:
        await past.close()
    result = await cli("review", "approve", proposal_id, "--db", str(db), "--as", "user:alice",
                       "--json")
    assert result.exit_code == 1
    [error] = json_out(result)
    assert error["error"] == "refused"
    assert "is expired" in error["message"]
    [view] = json_out(await cli("review", "show", proposal_id, "--db", str(db), "--json"))
    assert view["status"] == "expired"
    assert view["votes"] == []


async def test_expiry_follows_the_injected_clock(
    app: App, db: Path, clock: FixedClock
) -> None:
    proposal_id = await escalation(app)
    version = await case_version(app, CASE)
    clock.advance(timedelta(hours=23, minutes=59))
    assert await app.approvals.expire_due() == []
    clock.advance(timedelta(minutes=2))
    expired = await app.approvals.expire_due()
    assert [p.proposal_id for p in expired] == [proposal_id]
    error = await refused(db, "approve", proposal_id, "--as", "user:alice")
    assert "is expired" in error["message"]
    assert await case_version(app, CASE) == version


async def test_approvals_execute_under_the_policy_the_server_runs(tmp_path: Path) -> None:
    policy = Path(__file__).with_name("confirm_policy.toml")
    db = tmp_path / "custom.db"
    custom = await open_app(db, real_clock(-timedelta(minutes=5)), policy=policy)
    try:
        first = await closure(custom)
        # Under the demo policy (the default) a closure needs legal too: the
        # executor re-judges and sends it back to the queue.
        result = await cli("review", "approve", first, "--db", str(db), "--as", "user:alice",
                           "--json")
        assert result.exit_code == 0, result.output
        [outcome] = json_out(result)
        assert outcome["status"] == "pending_approval"
        assert "policy changed" in outcome["status_reason"]
        # (now judged under the demo policy, legal may reject it)
        await custom.approvals.reject(principal(custom, "user:bob"), first, reason="redo",
                                      digest=None, channel="cli")
        second = await closure(custom)
    finally:
        await custom.close()
    result = await cli("review", "approve", second, "--db", str(db), "--as", "user:alice",
                       "--policy", str(policy), "--json")
    assert result.exit_code == 0, result.output
    assert json_out(result)[0]["status"] == "executed"
