"""The console over plain HTTP against a real uvicorn server: security
headers everywhere, CSRF and digest rules on votes, sessions, tenant choice,
the proxy-header mode and the live event stream."""

from __future__ import annotations

import hashlib
from pathlib import Path

import anyio
import anyio.from_thread
import pytest

from signoff.server.app import App
from signoff.server.clock import FixedClock
from signoff.server.console.app import SECURITY_HEADERS, ConsoleSettings
from signoff.server.console.auth import local_target
from tests.conftest import open_app
from tests.console.harness import console_running
from tests.console.http import Browserless
from tests.review.helpers import closure, escalation, snapshot

pytestmark = pytest.mark.anyio


def secured(headers: dict[str, str]) -> bool:
    return all(headers.get(k.lower()) == v for k, v in SECURITY_HEADERS.items())


async def test_every_response_carries_the_security_headers(app: App) -> None:
    proposal_id = await escalation(app)
    async with console_running(app) as base:
        web = Browserless(base)
        replies = [await web.get("/queue"), await web.get("/signin"),
                   await web.get("/static/console.css"), await web.get("/nowhere")]
        await web.sign_in("demo-alice")
        replies += [await web.get("/queue"), await web.get(f"/proposals/{proposal_id}"),
                    await web.get(f"/proposals/{proposal_id}/approve"),
                    await web.post(f"/proposals/{proposal_id}/approve", {"digest": "x"}),
                    await web.get("/proposals/prop_nope")]
    assert [r.status for r in replies] == [303, 200, 200, 404, 200, 200, 405, 403, 404]
    for reply in replies:
        assert secured(reply.headers), reply.headers
    assert "frame-ancestors 'none'" in replies[0].headers["content-security-policy"]


async def test_sign_in_starts_a_fresh_session_and_sign_out_ends_it(app: App) -> None:
    async with console_running(app) as base:
        web = Browserless(base)
        page = await web.get("/signin")
        before = web.cookie
        signed = await web.post("/signin", {"csrf_token": page.csrf(), "token": "demo-bob"})
        assert signed.status == 303
        assert signed.headers["location"] == "/queue"
        assert web.cookie != before
        assert "samesite=lax" in signed.cookie("signoff_session").lower()
        assert "httponly" in signed.cookie("signoff_session").lower()
        queue = await web.get("/queue")
        assert queue.status == 200
        assert "Bob (legal)" in queue.body
        stale = await web.post("/signout", {"csrf_token": page.csrf()})
        assert stale.status == 403  # the pre-sign-in token died with that session
        out = await web.post("/signout", {"csrf_token": queue.csrf()})
        assert out.status == 303
        assert (await web.get("/queue")).status == 303


async def test_votes_from_the_console_need_the_displayed_digest(app: App, db: Path) -> None:
    proposal_id = await escalation(app)
    async with console_running(app) as base:
        web = Browserless(base)
        await web.sign_in("demo-alice")
        page = await web.get(f"/proposals/{proposal_id}")
        csrf = page.csrf()
        before = snapshot(db)
        missing = await web.post(f"/proposals/{proposal_id}/approve", {"csrf_token": csrf})
        assert missing.status == 400
        assert "digest" in missing.body
        stale = await web.post(f"/proposals/{proposal_id}/approve",
                               {"csrf_token": csrf, "digest": "0" * 64})
        assert stale.status == 303
        shown = await web.get(stale.headers["location"])
        assert "Refused: the proposal is not the one you reviewed" in shown.body
        long = await web.post(f"/proposals/{proposal_id}/approve",
                              {"csrf_token": csrf, "digest": "0" * 64, "comment": "x" * 2001})
        assert long.status == 400
        blank = await web.post(f"/proposals/{proposal_id}/reject",
                               {"csrf_token": csrf, "digest": "0" * 64, "reason": "  "})
        assert blank.status == 303
        shown = await web.get(f"/proposals/{proposal_id}")
        assert "Refused: a rejection needs a reason" in shown.body
        assert snapshot(db) == before
        foreign = await web.post(f"/proposals/{proposal_id}/approve",
                                 {"csrf_token": csrf, "digest": "0" * 64},
                                 Origin="http://evil.example")
        assert foreign.status == 403
        cross = await web.post(f"/proposals/{proposal_id}/approve",
                               {"csrf_token": csrf, "digest": "0" * 64},
                               **{"Sec-Fetch-Site": "cross-site"})
        assert cross.status == 403
        assert snapshot(db) == before


async def test_the_proposer_and_a_reviewer_without_the_role_are_refused(
    app: App, db: Path
) -> None:
    proposal_id = await closure(app)  # proposed by carol; needs supervisor + legal
    async with console_running(app) as base:
        before = snapshot(db)
        carol = Browserless(base)
        await carol.sign_in("demo-carol")
        page = await carol.get(f"/proposals/{proposal_id}")
        assert "You proposed this" in page.body
        digest = page.body.split('name="digest" value="')[1].split('"')[0]
        vote = await carol.post(f"/proposals/{proposal_id}/approve",
                                {"csrf_token": page.csrf(), "digest": digest})
        assert vote.status == 303
        assert "you proposed this" in (await carol.get(f"/proposals/{proposal_id}")).body
        assert snapshot(db) == before
        web = Browserless(base)
        await web.sign_in("demo-alice")
        page = await web.get(f"/proposals/{proposal_id}")
        digest = page.body.split('name="digest" value="')[1].split('"')[0]
        vote = await web.post(f"/proposals/{proposal_id}/approve",
                              {"csrf_token": page.csrf(), "digest": digest})
        assert vote.status == 303
        after = await web.get(f"/proposals/{proposal_id}")
        assert "an approval from legal" in after.body
        again = await web.post(f"/proposals/{proposal_id}/approve",
                               {"csrf_token": page.csrf(), "digest": digest})
        assert again.status == 303
        assert "already voted" in (await web.get(f"/proposals/{proposal_id}")).body


PRINCIPALS = """
[[principal]]
id = "user:zoe"
kind = "user"
display_name = "Zoe (supervisor, two tenants)"
tenants = ["acme", "globex"]
roles = ["supervisor"]
token_sha256 = "{zoe}"

[[principal]]
id = "agent:triage"
kind = "agent"
tenants = ["acme", "globex"]
roles = []

[[principal]]
id = "user:carol"
kind = "user"
tenants = ["acme"]
roles = ["analyst"]
"""


async def test_a_reviewer_in_two_tenants_picks_one(tmp_path: Path, clock: FixedClock) -> None:
    principals = tmp_path / "principals.toml"
    principals.write_text(PRINCIPALS.replace(
        "{zoe}", hashlib.sha256(b"demo-zoe").hexdigest()))
    app = await open_app(tmp_path / "zoe.db", clock, principals=principals)
    try:
        proposal_id = await escalation(app)
        async with console_running(app) as base:
            web = Browserless(base)
            signed = await web.sign_in("demo-zoe")
            assert signed.headers["location"] == "/queue"
            assert (await web.get("/queue")).headers["location"] == "/tenant"
            picker = await web.get("/tenant")
            assert "acme" in picker.body
            assert "globex" in picker.body
            bogus = await web.post("/tenant", {"csrf_token": picker.csrf(), "tenant": "initech"})
            assert bogus.status == 404
            await web.post("/tenant", {"csrf_token": picker.csrf(), "tenant": "globex"})
            assert proposal_id not in (await web.get("/queue?status=all")).body
            assert (await web.get(f"/proposals/{proposal_id}")).status == 404
            await web.post("/tenant", {"csrf_token": picker.csrf(), "tenant": "acme"})
            assert proposal_id in (await web.get("/queue")).body
            assert (await web.get(f"/proposals/{proposal_id}")).status == 200
    finally:
        await app.close()


async def test_identity_from_a_trusted_proxy_header(app: App) -> None:
    proposal_id = await escalation(app)
    settings = ConsoleSettings(secret="s", proxy_header="X-Forwarded-User")
    async with console_running(app, settings) as base:
        nobody = Browserless(base)
        assert (await nobody.get("/queue")).status == 303
        assert (await nobody.get("/signin")).status == 401
        refused = await nobody.post("/signin", {"csrf_token": "x", "token": "demo-alice"})
        assert refused.status == 404
        agent = Browserless(base, headers={"X-Forwarded-User": "agent:triage"})
        assert (await agent.get("/queue")).status == 303
        alice = Browserless(base, headers={"X-Forwarded-User": "user:alice"})
        queue = await alice.get("/queue")
        assert queue.status == 200
        assert proposal_id in queue.body
        # A new person behind the proxy gets a new session: nothing of alice's
        # (here a pending flash message) carries over to bob on her cookie.
        page = await alice.get(f"/proposals/{proposal_id}")
        await alice.post(f"/proposals/{proposal_id}/reject",
                         {"csrf_token": page.csrf(), "digest": "0" * 64, "reason": " "})
        bob = Browserless(base, headers={"X-Forwarded-User": "user:bob"}, cookie=alice.cookie)
        seen = await bob.get("/queue")
        assert "Bob (legal)" in seen.body
        assert "Refused" not in seen.body


async def test_the_queue_stream_announces_arrivals(app: App) -> None:
    await escalation(app)
    async with console_running(app, ConsoleSettings(secret="s", poll_seconds=0.05)) as base:
        web = Browserless(base)
        await web.sign_in("demo-alice")
        assert (await Browserless(base).get("/queue/events")).status == 401
        first_seen = anyio.Event()
        seen: list[str] = []

        def arrived(data: str) -> None:
            if not seen:
                anyio.from_thread.run_sync(first_seen.set)
            seen.append(data)

        async with anyio.create_task_group() as tg:
            tg.start_soon(web.events, "/queue/events?status=pending_approval", 2, arrived)
            await first_seen.wait()
            await closure(app)
    assert len(seen) == 2
    assert seen[0] != seen[1]


async def test_sign_in_returns_to_the_page_asked_for_and_only_on_this_site(app: App) -> None:
    proposal_id = await escalation(app)
    async with console_running(app) as base:
        web = Browserless(base)
        first = await web.get(f"/proposals/{proposal_id}")
        assert first.status == 303
        assert first.headers["location"] == f"/signin?next=%2Fproposals%2F{proposal_id}"
        signed = await web.sign_in("demo-alice", at=first.headers["location"])
        assert signed.headers["location"] == f"/proposals/{proposal_id}"
        sneaky = Browserless(base)
        assert (await sneaky.get("//evil.example/x")).status == 404
        assert (await sneaky.sign_in("demo-alice")).headers["location"] == "/queue"
        elsewhere = await Browserless(base).sign_in("demo-alice", at="/signin?next=//evil.example")
        assert elsewhere.headers["location"] == "/queue"


@pytest.mark.parametrize(("remembered", "target"), [
    ("/proposals/prop_1?x=1", "/proposals/prop_1?x=1"), ("//evil.example/", "/queue"),
    ("/\\evil.example/", "/queue"), ("https://evil.example/", "/queue"), (None, "/queue"),
])
def test_after_sign_in_only_local_paths(remembered: object, target: str) -> None:
    assert local_target(remembered) == target


async def test_a_cookie_captured_before_sign_out_is_dead_after_it(app: App, db: Path) -> None:
    proposal_id = await escalation(app)
    async with console_running(app) as base:
        web = Browserless(base)
        await web.sign_in("demo-alice")
        page = await web.get(f"/proposals/{proposal_id}")
        digest = page.body.split('name="digest" value="')[1].split('"')[0]
        captured = Browserless(base, cookie=web.cookie)
        assert (await captured.get("/queue")).status == 200
        out = await web.post("/signout", {"csrf_token": page.csrf()})
        assert out.status == 303
        replayed = await captured.get("/queue")
        assert replayed.status == 303
        assert replayed.headers["location"].startswith("/signin")
        before = snapshot(db)
        vote = await captured.post(f"/proposals/{proposal_id}/approve",
                                   {"csrf_token": page.csrf(), "digest": digest})
        assert vote.status in (303, 403)
        assert vote.headers.get("location", "/signin").startswith("/signin")
        assert snapshot(db) == before
