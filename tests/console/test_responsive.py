"""The queue and the proposal page fit the window, on a 1280 px desktop and
on a 390 px phone: nothing scrolls sideways, with real-length ids. On the
phone the queue's rows are cards. The pages are kept as screenshots in
test-artifacts/, and in docs/ for the README when missing there or when
SIGNOFF_UPDATE_DOCS is set."""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from signoff.server.app import App, Settings, build_app
from signoff.server.clock import FixedClock, random_ids
from tests.conftest import principal
from tests.console.harness import ARTIFACTS, REPO, browser, console_running, require_browser
from tests.review.helpers import CASE, case_version, closure, escalation, pending

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
NOTICE = ("Northgate Securities: we intend to open enforcement proceedings over the advisory "
          "fees that your fee schedule of 3 March did not disclose. You may respond in "
          "writing within 14 days of this notice.")


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(datetime(2026, 3, 2, 9, 30, tzinfo=UTC))


@pytest.fixture
async def app(db: Path, clock: FixedClock) -> AsyncIterator[App]:
    """Ids as long as in production (prop_ and 32 hex digits): what overflowed."""
    built = await build_app(Settings(db=db, clock=clock, ids=random_ids))
    await built.seed_if_empty()
    try:
        yield built
    finally:
        await built.close()


async def full_queue(app: App, clock: FixedClock) -> str:
    """A queue with one of each kind of wait, proposed over the last few
    hours; returns the notice approval's id."""
    clock.advance(-timedelta(hours=5))
    await escalation(app)
    clock.advance(timedelta(hours=2, minutes=10))
    await pending(app, "agent:triage", "case.update_risk", case_id="case-acme-002",
                  expected_version=await case_version(app, "case-acme-002"),
                  risk_level="critical", confidence=0.7,
                  evidence_refs=["ev-acme-002-a"], rationale="Unlicensed trading continues.")
    draft = await app.proposals.submit(principal(app, "agent:triage"), "notice.create_draft", {
        "case_id": CASE, "body": NOTICE, "confidence": 0.9})
    assert draft.aggregate_id is not None
    clock.advance(timedelta(minutes=55))
    notice = await pending(app, "agent:triage", "notice.approve", draft_id=draft.aggregate_id,
                           expected_version=1, confidence=0.9,
                           rationale="Legal asked for the fee wording to be explicit.")
    clock.advance(timedelta(hours=1, minutes=40))
    await closure(app)
    clock.advance(timedelta(minutes=15))
    return notice


async def overflow(page: Any) -> int:
    """How many pixels the page is wider than the window (0: it fits)."""
    found: int = await page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth")
    return found


async def too_wide(page: Any) -> list[str]:
    """The elements reaching past the window's right edge, for the failure message."""
    found: list[str] = await page.evaluate("""[...document.querySelectorAll('main *')]
        .filter(e => e.getBoundingClientRect().right > document.documentElement.clientWidth + 1)
        .map(e => e.tagName + ' ' + e.textContent.trim().slice(0, 50)).slice(0, 8)""")
    return found


def keep(shot: str, docs: str) -> None:
    """A screenshot for docs/, written there when missing or asked for."""
    target = REPO / "docs" / docs
    if not target.exists() or os.environ.get("SIGNOFF_UPDATE_DOCS"):
        shutil.copyfile(ARTIFACTS / shot, target)


async def test_the_queue_and_a_proposal_fit_a_desktop_and_a_phone(
    app: App, clock: FixedClock
) -> None:
    require_browser()
    from playwright.async_api import expect

    notice = await full_queue(app, clock)
    ARTIFACTS.mkdir(exist_ok=True)
    async with console_running(app) as base, browser() as chromium:
        for name, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
            context = await chromium.new_context(viewport=viewport)
            page = await context.new_page()
            await page.goto(f"{base}/signin")
            await page.fill("#token", "demo-bob")
            async with page.expect_navigation():
                await page.click("button[type=submit]")
            rows = page.locator("#queue tbody tr[data-proposal]")
            await expect(rows).to_have_count(4)
            await expect(page.locator(f"tr[data-proposal='{notice}']")).to_contain_text(
                "text for sending (legal sign-off)")
            assert await overflow(page) == 0, f"queue, {name}: {await too_wide(page)}"
            await page.screenshot(path=str(ARTIFACTS / f"console-queue-{name}.png"),
                                  full_page=True)
            if name == "phone":  # a card: the header row is gone, each cell labelled
                await expect(page.locator("#queue thead")).to_be_hidden()

            await page.goto(f"{base}/proposals/{notice}")
            must_see = page.get_by_test_id("review-fields")
            await expect(must_see).to_be_visible()
            await expect(must_see).to_contain_text(NOTICE)
            assert await overflow(page) == 0, f"proposal, {name}: {await too_wide(page)}"
            await page.screenshot(path=str(ARTIFACTS / f"console-proposal-{name}.png"),
                                  full_page=True)
            await context.close()
    keep("console-queue-desktop.png", "console-queue.png")
    keep("console-proposal-desktop.png", "console-proposal.png")
    keep("console-queue-phone.png", "console-phone.png")
