"""An approval the executor could not carry out is a failed operation: the
vote is recorded, the outcome is printed, and the command exits 1."""

from __future__ import annotations

from pathlib import Path

import pytest

from signoff.server.app import App
from tests.conftest import principal
from tests.review.helpers import CASE, cli, escalation, json_out

pytestmark = pytest.mark.anyio


async def stale_escalation(app: App) -> str:
    """An escalation whose case moved on after it was proposed."""
    proposal_id = await escalation(app)
    brief = await app.proposals.submit(principal(app, "agent:triage"), "brief.create", {
        "case_id": CASE, "summary": "New facts arrived.", "confidence": 0.9})
    assert brief.status == "executed"
    return proposal_id


async def test_an_approval_that_ends_in_a_conflict_exits_1(app: App, db: Path) -> None:
    proposal_id = await stale_escalation(app)
    result = await cli("review", "approve", proposal_id, "--db", str(db), "--as", "user:alice")
    assert result.exit_code == 1, result.output
    assert f"{proposal_id} is now conflict" in result.stdout
    assert "expected" in result.output  # the executor's reason
    votes = await app.store.read(lambda uow: uow.proposals.votes(proposal_id))
    assert [(v.voter_id, v.verdict) for v in votes] == [("user:alice", "approve")]


async def test_an_approval_that_ends_in_a_conflict_says_so_in_json(app: App, db: Path) -> None:
    proposal_id = await stale_escalation(app)
    result = await cli("review", "approve", proposal_id, "--db", str(db), "--as", "user:alice",
                       "--json")
    assert result.exit_code == 1, result.output
    [outcome] = json_out(result)
    assert (outcome["ok"], outcome["status"], outcome["error"]) == (False, "conflict", "conflict")
    assert outcome["voter_id"] == "user:alice"
    assert "expected" in outcome["message"]
    assert outcome["events"] == []
