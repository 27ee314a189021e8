"""What a reviewer sees first: the command's one-line summary in the queue,
and on the proposal page the fields the command says they must see (a
notice's text), with no stand-in values and no empty "run" line."""

from __future__ import annotations

import html
from pathlib import Path

import pytest

from signoff.server.app import App
from tests.conftest import principal
from tests.console.harness import console_running
from tests.console.http import Browserless
from tests.review.helpers import CASE, cli, escalation, json_out, pending

pytestmark = pytest.mark.anyio

NOTICE = "We intend to act on the fee schedule you filed on 3 March & its annex."


async def notice_approval(app: App) -> str:
    draft = await app.proposals.submit(principal(app, "agent:triage"), "notice.create_draft", {
        "case_id": CASE, "body": NOTICE, "confidence": 0.9})
    assert draft.aggregate_id is not None
    return await pending(app, "agent:triage", "notice.approve", draft_id=draft.aggregate_id,
                         expected_version=1, confidence=0.9)


async def test_the_queue_says_what_each_proposal_would_do(app: App) -> None:
    escalated, approval = await escalation(app), await notice_approval(app)
    async with console_running(app) as base:
        web = Browserless(base)
        await web.sign_in("demo-bob")
        queue = await web.get("/queue")
    rows = {pid: queue.body.split(f'data-proposal="{pid}"')[1].split("</tr>")[0]
            for pid in (escalated, approval)}
    assert f"Escalate {CASE} to the enforcement team" in rows[escalated]
    assert "Approve a notice&#39;s text for sending (legal sign-off)" in rows[approval]


async def test_a_legal_reviewer_reads_the_notice_text_without_expanding_anything(
    app: App
) -> None:
    proposal_id = await notice_approval(app)
    async with console_running(app) as base:
        web = Browserless(base)
        await web.sign_in("demo-bob")
        page = await web.get(f"/proposals/{proposal_id}")
    assert page.status == 200
    must_see = page.body.split('data-testid="review-fields"')[1].split("</section>")[0]
    assert html.escape(NOTICE) in must_see
    assert CASE in must_see
    heading = page.body.split("<h1")[1].split("</h1>")[0]
    assert "Approve a notice&#39;s text for sending" in heading
    assert "<details" not in must_see


async def test_the_proposal_page_shows_no_stand_in_values(app: App) -> None:
    proposal_id = await notice_approval(app)  # sets approval_event_id when committed
    async with console_running(app) as base:
        web = Browserless(base)
        await web.sign_in("demo-bob")
        page = await web.get(f"/proposals/{proposal_id}")
    for stand_in in ("preview", "not committed", "uncommitted-event", "In run", ">-<"):
        assert stand_in not in page.body, stand_in
    assert "the id of the notice.approved event, given when it is committed" in page.body


async def test_review_show_prints_the_summary_and_the_notice_text_first(
    app: App, db: Path
) -> None:
    proposal_id = await notice_approval(app)
    shown = await cli("review", "show", proposal_id, "--db", str(db))
    assert shown.exit_code == 0, shown.output
    lines = shown.stdout.splitlines()
    assert lines[1] == "Approve a notice's text for sending (legal sign-off)"
    assert lines[2] == f"body (on the notice): {NOTICE}"
    assert "in run" not in shown.stdout
    assert "preview" not in shown.stdout
    assert "given when it is committed" in shown.stdout
    [row] = json_out(await cli("review", "list", "--db", str(db), "--json"))
    assert row["summary"] == "Approve a notice's text for sending (legal sign-off)"
