"""`signoff review list` and `show`: what a reviewer sees before deciding."""

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
    pending,
    real_clock,
)

pytestmark = pytest.mark.anyio


async def test_list_is_the_pending_queue_oldest_first_with_age_and_expiry(
    app: App, db: Path, clock: FixedClock
) -> None:
    first = await escalation(app)
    clock.advance(timedelta(minutes=5))
    second = await closure(app)
    result = await cli("review", "list", "--db", str(db), "--json")
    assert result.exit_code == 0, result.output
    rows = json_out(result)
    assert [r["proposal_id"] for r in rows] == [first, second]
    assert rows[0]["status"] == "pending_approval"
    assert rows[0]["proposer_id"] == "agent:triage"
    assert rows[0]["rule_id"] == "escalate.ask-supervisor"
    assert rows[0]["age_seconds"] >= rows[1]["age_seconds"] >= 0
    assert 23 * 3600 < rows[0]["expires_in_seconds"] <= 24 * 3600
    assert rows[0]["overdue"] is False
    assert "supervisor" in rows[0]["still_needed"]

    human = await cli("review", "list", "--db", str(db))
    assert human.exit_code == 0
    assert first in human.stdout
    assert "case.escalate" in human.stdout
    assert "2 proposal(s)" in human.stdout


async def test_list_filters_by_tenant_command_and_status(app: App, db: Path) -> None:
    escalated = await escalation(app)
    closing = await closure(app)
    only_close = json_out(await cli("review", "list", "--db", str(db), "--command",
                                    "case.close", "--json"))
    assert [r["proposal_id"] for r in only_close] == [closing]
    assert json_out(await cli("review", "list", "--db", str(db), "--tenant", "globex",
                              "--json")) == []
    await app.approvals.approve(principal(app, "user:alice"), escalated, digest=None,
                                channel="cli")
    executed = json_out(await cli("review", "list", "--db", str(db), "--status", "executed",
                                  "--json"))
    assert [r["proposal_id"] for r in executed] == [escalated]
    everything = json_out(await cli("review", "list", "--db", str(db), "--status", "all",
                                    "--json"))
    assert {r["proposal_id"] for r in everything} >= {escalated, closing}
    bad = await cli("review", "list", "--db", str(db), "--status", "nonsense")
    assert bad.exit_code == 2


async def test_show_has_what_a_reviewer_needs_to_decide(app: App, db: Path) -> None:
    proposal_id = await escalation(app)
    result = await cli("review", "show", proposal_id, "--db", str(db), "--json")
    assert result.exit_code == 0, result.output
    [view] = json_out(result)
    assert view["proposer"] == {"id": "agent:triage", "kind": "agent",
                                "display_name": "Triage agent", "roles": []}
    assert view["command_type"] == "case.escalate"
    assert view["tool"] == "propose_case_escalation"
    assert view["payload"] == {"case_id": CASE}
    assert len(view["payload_digest"]) == 64
    assert view["rationale"].startswith("Fee schedule")
    assert view["confidence"] == 0.8
    assert [(e["ref"], e["title"]) for e in view["evidence"]] == [
        ("ev-acme-001-a", "Fee schedule vs. client statements"),
        ("ev-acme-001-b", "Recorded sales call, 3 March"),
    ]
    assert view["decision"]["rule_id"] == "escalate.ask-supervisor"
    assert view["decision"]["policy_version"] == app.gate().policy.version
    assert view["votes"] == []
    assert "1 more approval from supervisor" in view["still_needed"]
    change = view["change"]
    assert change["outcome"] == "events"
    assert [e["event_type"] for e in change["events"]] == ["case.escalated"]
    assert change["before"]["status"] == "open"
    assert change["after"]["status"] == "escalated"
    assert {"field": "status", "before": "open", "after": "escalated"} in change["changes"]
    assert [c["field"] for c in change["changes"]] == ["status"]
    assert change["read_models"]["case_summary"]["status"] == "open"
    assert view["committed_events"] == []

    human = await cli("review", "show", proposal_id, "--db", str(db))
    assert human.exit_code == 0, human.output
    for text in ("Fee schedule vs. client statements", "Recorded sales call, 3 March",
                 view["payload_digest"], "escalate.ask-supervisor", "approving would",
                 "case.escalated", '"open"', '"escalated"', "still needed"):
        assert text in human.stdout, text


async def test_show_of_a_stale_proposal_says_approving_would_conflict(
    app: App, db: Path
) -> None:
    proposal_id = await escalation(app)
    brief = await app.proposals.submit(principal(app, "agent:triage"), "brief.create", {
        "case_id": CASE, "summary": "New facts arrived.", "confidence": 0.9})
    assert brief.status == "executed"
    [view] = json_out(await cli("review", "show", proposal_id, "--db", str(db), "--json"))
    assert view["change"]["outcome"] == "conflict"
    assert "approving would end in a conflict" in view["change"]["reason"]


async def test_show_of_a_notice_approval_previews_the_notice(app: App, db: Path) -> None:
    agent = principal(app, "agent:triage")
    draft = await app.proposals.submit(agent, "notice.create_draft", {
        "case_id": CASE, "body": "We intend to act.", "confidence": 0.9})
    assert draft.status == "executed"
    assert draft.aggregate_id
    proposal_id = await pending(app, "agent:triage", "notice.approve",
                                draft_id=draft.aggregate_id, expected_version=1,
                                confidence=0.9)
    [view] = json_out(await cli("review", "show", proposal_id, "--db", str(db), "--json"))
    change = view["change"]
    assert change["aggregate_type"] == "notice"
    assert {"field": "status", "before": "drafted", "after": "approved"} in change["changes"]
    assert change["read_models"]["notices"]["status"] == "drafted"


async def test_show_of_an_executed_proposal_lists_its_events_and_votes(
    app: App, db: Path
) -> None:
    proposal_id = await closure(app)
    for reviewer in ("user:alice", "user:bob"):
        await app.approvals.approve(principal(app, reviewer), proposal_id, digest=None,
                                    channel="console", comment=f"ok from {reviewer}")
    [view] = json_out(await cli("review", "show", proposal_id, "--db", str(db), "--json"))
    assert view["status"] == "executed"
    assert view["change"] is None
    assert [e["event_type"] for e in view["committed_events"]] == ["case.closed"]
    assert [(v["voter_id"], v["voter_roles"], v["channel"]) for v in view["votes"]] == [
        ("user:alice", ["supervisor"], "console"), ("user:bob", ["legal"], "console")]
    assert view["still_needed"] == "nothing: executed"


async def test_show_of_an_unknown_id_fails_clearly(app: App, db: Path) -> None:
    result = await cli("review", "show", "prop_nope", "--db", str(db), "--json")
    assert result.exit_code == 1
    assert json_out(result) == [{"ok": False, "error": "not_found",
                                 "message": "proposal prop_nope not found"}]


async def test_an_overdue_proposal_is_marked_in_list_and_show(tmp_path: Path) -> None:
    db = tmp_path / "old.db"
    past = await open_app(db, real_clock(-timedelta(hours=25)))
    try:
        proposal_id = await escalation(past)
    finally:
        await past.close()
    [row] = json_out(await cli("review", "list", "--db", str(db), "--json"))
    assert row["proposal_id"] == proposal_id
    assert row["overdue"] is True
    assert row["expires_in_seconds"] < 0
    [view] = json_out(await cli("review", "show", proposal_id, "--db", str(db), "--json"))
    assert view["overdue"] is True


async def test_no_database_is_bad_usage(tmp_path: Path) -> None:
    result = await cli("review", "list", "--db", str(tmp_path / "missing.db"))
    assert result.exit_code == 2
    assert not (tmp_path / "missing.db").exists()


async def test_text_an_agent_wrote_cannot_rewrite_the_reviewers_terminal(
    app: App, db: Path
) -> None:
    # Cursor up, erase line, and a faked vote line: all shown inert.
    trick = "routine\x1b[2A\x1b[2K\nvote approve by user:alice \u202eevil"
    proposal_id = await pending(
        app, "agent:triage", "case.escalate", case_id=CASE,
        expected_version=await case_version(app), confidence=0.9, rationale=trick,
        evidence_refs=["ev-acme-001-a"])
    human = await cli("review", "show", proposal_id, "--db", str(db))
    assert human.exit_code == 0, human.output
    assert "\x1b" not in human.stdout
    assert "\u202e" not in human.stdout
    assert "\\u001b[2A" in human.stdout
    assert not any(line.startswith("vote approve") for line in human.stdout.splitlines())
