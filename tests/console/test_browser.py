"""The console in a real browser (chromium via Playwright) against a real
uvicorn server and a real SQLite file: a supervisor reviews and approves,
another tenant sees nothing, forged and GET votes change nothing, and an
agent cannot sign in. The proposal page is kept as a screenshot in
test-artifacts/, and in docs/console.png for the README when that is missing
or SIGNOFF_UPDATE_DOCS is set."""

from __future__ import annotations

import os
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from signoff.server.app import App
from signoff.server.clock import FixedClock
from tests.console.harness import (
    ARTIFACTS,
    REPO,
    browser,
    console_running,
    require_browser,
    sign_in,
)
from tests.review.helpers import closure, escalation, snapshot

pytestmark = [pytest.mark.anyio, pytest.mark.slow]


@pytest.fixture
def clock() -> FixedClock:
    """A constant time: the pages (and the screenshot kept for the README) do
    not change from one run to the next."""
    return FixedClock(datetime(2026, 3, 2, 9, 30, tzinfo=UTC))


async def votes(app: App, proposal_id: str) -> list[tuple[str, str, str]]:
    found = await app.store.read(lambda uow: uow.proposals.votes(proposal_id))
    return [(v.voter_id, v.verdict, v.channel) for v in found]


async def status(app: App, proposal_id: str) -> str:
    stored = await app.store.read(lambda uow: uow.proposals.get(proposal_id, None))
    assert stored is not None
    return stored.status


async def test_a_supervisor_reviews_and_approves_an_escalation(app: App) -> None:
    require_browser()
    from playwright.async_api import expect

    proposal_id = await escalation(app)
    async with console_running(app) as base, browser() as chromium:
        context = await chromium.new_context(viewport={"width": 1280, "height": 900})
        queue = await context.new_page()
        signed_in = await sign_in(queue, base, "demo-alice")
        assert signed_in.status == 200
        assert queue.url == f"{base}/queue"
        await expect(queue.get_by_test_id("tenant")).to_have_text("acme")
        row = queue.locator(f"tr[data-proposal='{proposal_id}']")
        await expect(row).to_contain_text("case.escalate")
        await expect(row).to_contain_text("1 more approval from supervisor")
        await expect(row).to_contain_text("in 1d 0h")  # the fixed clock: exactly 24 h left

        # The queue is live: a new proposal shows up without a reload.
        await expect(queue.get_by_test_id("live")).to_be_visible()
        arrived = await closure(app)
        await expect(queue.locator(f"tr[data-proposal='{arrived}']")).to_contain_text(
            "case.close")

        review = await context.new_page()
        await review.goto(f"{base}/queue")
        async with review.expect_navigation():
            await review.locator(f"tr[data-proposal='{proposal_id}'] a").click()
        await expect(review.get_by_test_id("status")).to_have_text("pending_approval")
        await expect(review.get_by_test_id("rule")).to_have_text("escalate.ask-supervisor")
        await expect(review.get_by_test_id("evidence")).to_contain_text(
            "Fee schedule vs. client statements")
        await expect(review.get_by_test_id("evidence")).to_contain_text(
            "Recorded sales call, 3 March")
        change = review.get_by_test_id("change")
        await expect(change).to_contain_text("case.escalated")
        await expect(change.locator("td.before")).to_have_text('"open"')
        await expect(change.locator("td.after")).to_have_text('"escalated"')
        stored = await app.store.read(lambda uow: uow.proposals.get(proposal_id, "acme"))
        assert stored is not None
        await expect(review.get_by_test_id("digest")).to_have_text(stored.payload_digest)
        ARTIFACTS.mkdir(exist_ok=True)
        await review.screenshot(path=str(ARTIFACTS / "console-proposal.png"), full_page=True)
        docs = REPO / "docs" / "console.png"
        if not docs.exists() or os.environ.get("SIGNOFF_UPDATE_DOCS"):
            docs.parent.mkdir(exist_ok=True)
            shutil.copyfile(ARTIFACTS / "console-proposal.png", docs)

        await review.fill("#comment", "the fee evidence holds")
        async with review.expect_navigation():
            await review.get_by_role("button", name="Approve").click()
        await expect(review.get_by_test_id("flash-ok")).to_contain_text("executed")
        await expect(review.get_by_test_id("status")).to_have_text("executed")
        await expect(review.get_by_test_id("committed")).to_contain_text("case.escalated")

        # ...and a decided proposal leaves the open queue page by itself.
        await expect(queue.locator(f"tr[data-proposal='{proposal_id}']")).to_have_count(0)
        await expect(queue.locator(f"tr[data-proposal='{arrived}']")).to_have_count(1)

        async with review.expect_navigation():
            await review.get_by_role("link", name="Trace").click()
        timeline = review.get_by_test_id("timeline")
        await expect(timeline).to_contain_text("user:alice voted approve via console")
        await expect(timeline).to_contain_text("case.escalated")
        await context.close()
    assert await status(app, proposal_id) == "executed"
    assert await votes(app, proposal_id) == [("user:alice", "approve", "console")]


async def test_another_tenants_reviewer_sees_nothing_of_it(app: App) -> None:
    require_browser()
    from playwright.async_api import expect

    proposal_id = await escalation(app)
    async with console_running(app) as base, browser() as chromium:
        page = await (await chromium.new_context()).new_page()
        assert (await sign_in(page, base, "demo-dana")).status == 200
        await expect(page.get_by_test_id("tenant")).to_have_text("globex")
        await expect(page.locator("#queue tbody")).to_contain_text("Nothing here.")
        await page.goto(f"{base}/queue?status=all")
        await expect(page.locator("#queue tbody")).not_to_contain_text(proposal_id)
        for path in (f"/proposals/{proposal_id}", f"/proposals/{proposal_id}/trace"):
            response = await page.goto(base + path)
            assert response is not None
            assert response.status == 404
            await expect(page.get_by_test_id("error")).to_have_text("no such proposal")
            content = await page.content()
            assert proposal_id not in content
            assert "case-acme-001" not in content
        rows = await page.request.get(f"{base}/queue/rows?status=all")
        assert rows.status == 200
        assert proposal_id not in await rows.text()
    assert await status(app, proposal_id) == "pending_approval"


async def forged_post(page: Any, evil_origin: str, target: str, fields: dict[str, str]) -> Any:
    """A page on another origin that submits a form to the console."""
    inputs = "".join(f'<input name="{k}" value="{v}">' for k, v in fields.items())
    html = (f'<form id="f" method="post" action="{target}">{inputs}</form>'
            '<script>document.getElementById("f").submit()</script>')

    async def serve(route: Any) -> None:
        await route.fulfill(status=200, content_type="text/html", body=html)

    await page.route(f"{evil_origin}/**", serve)
    async with page.expect_response(target) as answer:
        await page.goto(f"{evil_origin}/prize")
    return await answer.value


async def test_forged_and_get_votes_change_nothing(app: App, db: Path) -> None:
    require_browser()
    proposal_id = await escalation(app)
    stored = await app.store.read(lambda uow: uow.proposals.get(proposal_id, "acme"))
    assert stored is not None
    before = snapshot(db)
    async with console_running(app) as base, browser() as chromium:
        page = await (await chromium.new_context()).new_page()
        assert (await sign_in(page, base, "demo-alice")).status == 200
        target = f"{base}/proposals/{proposal_id}/approve"
        # Same site, other origin (another port): the session cookie goes along.
        other_port = int(base.rsplit(":", 1)[1]) + 1
        forged = await forged_post(page, f"http://127.0.0.1:{other_port}", target,
                                   {"digest": stored.payload_digest, "comment": "pwned"})
        assert forged.status == 403
        # Another site entirely: no cookie, still refused.
        forged = await forged_post(page, "http://attacker.test", target,
                                   {"digest": stored.payload_digest})
        assert forged.status == 403
        # A GET of the vote URL is not a vote.
        response = await page.goto(target)
        assert response is not None
        assert response.status == 405
        response = await page.goto(f"{base}/proposals/{proposal_id}/reject")
        assert response is not None
        assert response.status == 405
    assert snapshot(db) == before
    assert await votes(app, proposal_id) == []


async def test_an_agent_token_cannot_sign_in(app: App) -> None:
    require_browser()
    from playwright.async_api import expect

    async with console_running(app) as base, browser() as chromium:
        page = await (await chromium.new_context()).new_page()
        for token in ("demo-triage", "not-a-token"):
            refused = await sign_in(page, base, token)
            assert refused.status == 401
            await expect(page.get_by_test_id("signin-error")).to_contain_text(
                "not a reviewer's token")
        response = await page.goto(f"{base}/queue")
        assert response is not None
        assert page.url == f"{base}/signin"
        rows = await page.request.get(f"{base}/queue/rows")
        assert rows.status == 401
