"""The App card in headless Chromium, inside a host page built from the
ext-apps host bridge, fed by a real SignoffServer through a real in-process
client (tests/mcp/app_host.py). Each status is rendered from the receipts
that server answers: pending_approval followed through the bridge until two
reviewers approve (executed), a reviewer's rejection, an allowed brief whose
agent-written text holds markup, and a gateway call under way (executing)
until the real upstream answers. The card pending its second approval is
kept in test-artifacts/app-card.png, and in docs/app-card.png for the README
when that is missing or SIGNOFF_UPDATE_DOCS is set."""

from __future__ import annotations

import os
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from signoff.server.app import App
from signoff.server.clock import FixedClock
from tests.conftest import principal
from tests.console.harness import ARTIFACTS, REPO
from tests.gateway.git_world import TENANT, git, make_world, serving
from tests.mcp.app_host import HostPage, build_bridge, connected, host_page, require_host
from tests.review.helpers import CASE, case_version

pytestmark = [pytest.mark.anyio, pytest.mark.slow]
REFRESHED = 30_000  # ms a refresh may take to show: the card asks every 3 s
AGENT_TEXT = ('<script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2">'
              " The fee schedule contradicts the recorded call.")


@pytest.fixture
def clock() -> FixedClock:
    """A constant time: the screenshot kept for the README does not change."""
    return FixedClock(datetime(2026, 3, 2, 9, 30, tzinfo=UTC))


@pytest.fixture
def db(tmp_path: Path) -> Path:
    """A fresh file, seeded by `app` with the same sequential ids it goes on
    with (the folder's pre-seeded file was seeded by another id source)."""
    return tmp_path / "card.db"


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    require_host()
    return build_bridge(tmp_path_factory.mktemp("apps-host"))


async def view_has_only_its_own_markup(host: HostPage) -> None:
    """No element the view did not ship, and no script ran but its own."""
    found = await host.view_frame().evaluate("""() => ({
        scripts: document.querySelectorAll("script").length,
        foreign: document.querySelectorAll("img, iframe, object, embed, a, form, button, input,"
                                           + " select, textarea").length,
        pwned: window.__pwned === undefined ? null : window.__pwned,
    })""")
    assert found == {"scripts": 1, "foreign": 0, "pwned": None}


async def keep_screenshot(host: HostPage) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "app-card.png"
    await host.page.locator("#slot iframe").screenshot(path=str(shot))
    docs = REPO / "docs" / "app-card.png"
    if not docs.exists() or os.environ.get("SIGNOFF_UPDATE_DOCS"):
        shutil.copyfile(shot, docs)


async def test_a_pending_closure_is_followed_until_both_reviewers_approve(
        app: App, bundle: Path) -> None:
    from playwright.async_api import expect

    arguments = {"case_id": CASE, "expected_version": await case_version(app),
                 "confidence": 0.9, "rationale": "Settled with the firm."}
    async with connected(app, principal(app, "user:carol")) as client, \
            host_page(client, bundle) as host:
        result = await client.call_tool("propose_case_closure", arguments)
        assert result.structured_content is not None
        proposal_id = result.structured_content["proposal_id"]
        await host.show("propose_case_closure", arguments, result)
        view = host.view
        await expect(view.get_by_test_id("status")).to_have_text("pending approval")
        await expect(view.get_by_test_id("proposal-id")).to_have_text(proposal_id)
        await expect(view.get_by_test_id("subject")).to_have_text(f"case.close · {CASE}")
        await expect(view.get_by_test_id("rule")).to_have_text("close.ask-supervisor-and-legal")
        await expect(view.get_by_test_id("votes")).to_have_text("No votes yet.")
        await expect(view.get_by_test_id("needed")).to_have_text(
            "one approval each from supervisor and legal")
        await expect(view.get_by_test_id("result")).to_have_text("Nothing has run yet.")

        await app.approvals.approve(principal(app, "user:alice"), proposal_id, digest=None,
                                    channel="console", comment="The settlement letter is on file.")
        votes = view.get_by_test_id("votes")
        await expect(votes).to_contain_text("user:alice", timeout=REFRESHED)
        await expect(votes).to_contain_text("approved")
        await expect(votes).to_contain_text("The settlement letter is on file.")
        await expect(view.get_by_test_id("needed")).to_have_text("an approval from legal")
        await expect(view.get_by_test_id("status")).to_have_text("pending approval")
        await keep_screenshot(host)

        await app.approvals.approve(principal(app, "user:bob"), proposal_id, digest=None,
                                    channel="console")
        await expect(view.get_by_test_id("status")).to_have_text("executed", timeout=REFRESHED)
        await expect(view.get_by_test_id("result")).to_contain_text("case.closed")
        await expect(view.get_by_test_id("needed")).to_have_text("nothing: executed")
        await expect(view.get_by_test_id("refresh")).to_have_text("Final: executed.")
        calls = await host.calls()
        assert calls, "the card never asked the host for get_proposal"
        assert all(c == {"call": "get_proposal", "arguments": {"proposal_id": proposal_id}}
                   for c in calls), calls
        await view_has_only_its_own_markup(host)
        assert host.refused == []


async def test_a_rejection_shows_the_reviewers_words_as_text(app: App, bundle: Path) -> None:
    from playwright.async_api import expect

    arguments = {"case_id": CASE, "expected_version": await case_version(app),
                 "confidence": 0.8, "evidence_refs": ["ev-acme-001-a"]}
    async with connected(app, principal(app, "agent:triage")) as client, \
            host_page(client, bundle) as host:
        result = await client.call_tool("propose_case_escalation", arguments)
        assert result.structured_content is not None
        proposal_id = result.structured_content["proposal_id"]
        await host.show("propose_case_escalation", arguments, result)
        view = host.view
        await expect(view.get_by_test_id("status")).to_have_text("pending approval")
        reason = "<b>Not enough</b> evidence <script>window.__pwned = 3</script>"
        await app.approvals.reject(principal(app, "user:alice"), proposal_id, reason=reason,
                                   digest=None, channel="console")
        await expect(view.get_by_test_id("status")).to_have_text("rejected", timeout=REFRESHED)
        await expect(view.get_by_test_id("votes")).to_contain_text(reason)
        await expect(view.get_by_test_id("votes")).to_contain_text("rejected")
        await expect(view.get_by_test_id("result")).to_have_text("Nothing was executed.")
        await expect(view.get_by_test_id("refresh")).to_have_text("Final: rejected.")
        await view_has_only_its_own_markup(host)


async def test_agent_written_markup_in_an_executed_brief_shows_as_text(
        app: App, bundle: Path) -> None:
    from playwright.async_api import expect

    arguments = {"case_id": CASE, "summary": AGENT_TEXT, "confidence": 0.9,
                 "evidence_refs": ["ev-acme-001-a"]}
    async with connected(app, principal(app, "agent:triage")) as client, \
            host_page(client, bundle) as host:
        result = await client.call_tool("create_analyst_brief", arguments)
        await host.show("create_analyst_brief", arguments, result)
        view = host.view
        await expect(view.get_by_test_id("status")).to_have_text("executed")
        await expect(view.get_by_test_id("rule")).to_have_text("brief.allow")
        await expect(view.get_by_test_id("result")).to_contain_text(f"summary: {AGENT_TEXT}")
        await expect(view.get_by_test_id("votes")).to_have_text("No votes.")
        await expect(view.get_by_test_id("needed")).to_have_text("nothing: executed")
        await expect(view.get_by_test_id("refresh")).to_have_text("Final: executed.")
        await view_has_only_its_own_markup(host)
        assert await host.calls() == []  # a final receipt is not followed
        assert host.refused == []


async def test_a_gateway_call_under_way_is_followed_until_the_upstream_answers(
        tmp_path: Path, bundle: Path) -> None:
    from playwright.async_api import expect

    world = await make_world(tmp_path)
    git(world.repo, "add", "notes.txt")
    async with serving(world) as (app, runtime, relay):
        agent = principal(app, "agent:claude", TENANT)
        proposed = await app.proposals.submit(agent, "tool.repo.git_commit", {
            "repo_path": str(world.repo), "message": "Add notes", "confidence": 0.9,
            "rationale": "asked by the user"})
        assert proposed.proposal_id is not None
        vote = await app.approvals.approve(principal(app, "user:rita", TENANT),
                                           proposed.proposal_id, digest=None, channel="cli")
        assert vote.proposal.status == "executing"
        arguments = {"proposal_id": proposed.proposal_id}
        async with connected(app, agent, gateway=runtime) as client, \
                host_page(client, bundle) as host:
            tools: dict[str, Any] = {t.name: t for t in (await client.list_tools()).tools}
            assert tools["repo_git_commit"].meta["ui"] == {"resourceUri": "ui://signoff/proposal"}
            assert "ui" not in (tools["repo_git_status"].meta or {})
            result = await client.call_tool("get_proposal", arguments)
            await host.show("get_proposal", arguments, result)
            view = host.view
            await expect(view.get_by_test_id("status")).to_have_text("executing")
            await expect(view.get_by_test_id("votes")).to_contain_text("user:rita")
            await expect(view.get_by_test_id("result")).to_contain_text("tool_call.approved")
            await expect(view.get_by_test_id("result")).not_to_contain_text("upstream answered")
            while (await relay.run_once()).claimed:
                pass
            await expect(view.get_by_test_id("status")).to_have_text("executed",
                                                                     timeout=REFRESHED)
            await expect(view.get_by_test_id("result")).to_contain_text("The upstream answered:")
            await expect(view.get_by_test_id("result")).to_contain_text("Add notes")
            await view_has_only_its_own_markup(host)
    assert world.commits() == ["Add notes", "initial"]
