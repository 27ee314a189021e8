"""Console sessions live in the database and end for real: on sign-out
(here or in another console process), when the principal is removed from
the principals file or its token rotated, after the idle timeout and after
the absolute lifetime. A cookie captured before any of these is refused."""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path

import anyio
import anyio.from_thread
import pytest

from signoff.policies.principals import PrincipalsFile
from signoff.server.app import App, example_file
from signoff.server.clock import FixedClock
from signoff.server.console.app import ConsoleSettings
from tests.conftest import open_app
from tests.console.harness import console_running
from tests.console.http import COOKIE, SIGNIN_COOKIE, Browserless
from tests.review.helpers import escalation, snapshot

pytestmark = pytest.mark.anyio

DEMO_PRINCIPALS = example_file("principals.toml")
ALICE_DIGEST = hashlib.sha256(b"demo-alice").hexdigest()


async def refused(web: Browserless) -> bool:
    """Whether this client's session no longer opens the queue."""
    reply = await web.get("/queue")
    return reply.status == 303 and reply.headers["location"].startswith("/signin")


async def signed_in(base: str, token: str = "demo-alice") -> Browserless:
    web = Browserless(base)
    assert (await web.sign_in(token)).status == 303
    assert (await web.get("/queue")).status == 200
    return web


@pytest.fixture
def principals(tmp_path: Path) -> Path:
    path = tmp_path / "principals.toml"
    path.write_text(DEMO_PRINCIPALS.read_text())
    return path


@asynccontextmanager
async def app_on(db: Path, clock: FixedClock, principals: Path) -> AsyncIterator[App]:
    """An app whose principals file is read again on every request (the
    default waits a second between checks), so an edit shows at once."""
    app = await open_app(db, clock, principals=principals)
    app.principals = PrincipalsFile(principals, min_interval=0)
    try:
        yield app
    finally:
        await app.close()


async def test_the_cookie_holds_an_id_the_database_keeps_only_as_a_hash(
    app: App, db: Path
) -> None:
    async with console_running(app) as base:
        web = Browserless(base)
        page = await web.get("/signin")
        nonce = page.cookie(SIGNIN_COOKIE)
        assert "httponly" in nonce.lower()
        assert "samesite=lax" in nonce.lower()
        with sqlite3.connect(db) as conn:  # opening the sign-in page stores nothing
            assert conn.execute("SELECT count(*) FROM console_sessions").fetchone() == (0,)
        signed = await web.post("/signin", {"csrf_token": page.csrf(), "token": "demo-alice"})
        assert "max-age=0" in signed.cookie(SIGNIN_COOKIE).lower()  # the nonce is spent
        cookie = signed.cookie(COOKIE).lower()
        assert "httponly" in cookie
        assert "samesite=lax" in cookie
        assert "max-age=28800" in cookie
    assert web.cookie is not None
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT * FROM console_sessions").fetchall()
    assert len(rows) == 1
    assert not any(web.cookie in str(value) for value in rows[0])
    assert rows[0][:3] == (hashlib.sha256(web.cookie.encode()).hexdigest(), "user:alice",
                           ALICE_DIGEST)


async def test_sign_out_everywhere_ends_every_session_of_that_reviewer(app: App) -> None:
    async with console_running(app) as base:
        laptop, phone = await signed_in(base), await signed_in(base)
        bob = await signed_in(base, "demo-bob")
        page = await laptop.get("/queue")
        out = await laptop.post("/signout", {"csrf_token": page.csrf(), "everywhere": "1"})
        assert out.status == 303
        assert await refused(laptop)
        assert await refused(phone)
        assert not await refused(bob)


async def test_removing_the_principal_ends_its_sessions_for_good(
    tmp_path: Path, clock: FixedClock, principals: Path
) -> None:
    file = anyio.Path(principals)
    original = await file.read_text()
    async with app_on(tmp_path / "s.db", clock, principals) as app:
        proposal_id = await escalation(app)
        async with console_running(app) as base:
            web = await signed_in(base)
            page = await web.get(f"/proposals/{proposal_id}")
            stolen = web.cookie
            captured = Browserless(base, cookie=stolen)
            await file.write_text(original.replace('id = "user:alice"', 'id = "user:alicia"'))
            assert await refused(captured)
            before = snapshot(tmp_path / "s.db")
            digest = page.body.split('name="digest" value="')[1].split('"')[0]
            vote = await web.post(f"/proposals/{proposal_id}/approve",
                                  {"csrf_token": page.csrf(), "digest": digest})
            assert vote.status == 403
            assert snapshot(tmp_path / "s.db") == before
            # Put back, she signs in afresh; the old sessions stay revoked.
            await file.write_text(original)
            assert await refused(Browserless(base, cookie=stolen))
            assert not await refused(await signed_in(base))


async def test_rotating_the_token_ends_the_sessions_opened_with_the_old_one(
    tmp_path: Path, clock: FixedClock, principals: Path
) -> None:
    async with app_on(tmp_path / "s.db", clock, principals) as app, \
            console_running(app) as base:
        old = await signed_in(base)
        new_digest = hashlib.sha256(b"alice-rotated").hexdigest()
        file = anyio.Path(principals)
        await file.write_text((await file.read_text()).replace(ALICE_DIGEST, new_digest))
        assert await refused(old)
        assert (await Browserless(base).sign_in("demo-alice")).status == 401
        assert not await refused(await signed_in(base, "alice-rotated"))


async def test_a_session_ends_after_the_idle_timeout(app: App, clock: FixedClock) -> None:
    settings = ConsoleSettings(idle_timeout=timedelta(minutes=30))
    async with console_running(app, settings) as base:
        web = await signed_in(base)
        for _ in range(3):  # each page view restarts the idle clock
            clock.advance(timedelta(minutes=29))
            assert (await web.get("/queue")).status == 200
        # Background refreshes are not activity.
        clock.advance(timedelta(minutes=20))
        assert (await web.get("/queue/rows")).status == 200
        clock.advance(timedelta(minutes=10))
        assert (await web.get("/queue/rows")).status == 401
        assert await refused(web)


async def test_a_session_ends_after_its_lifetime_however_active(
    app: App, clock: FixedClock
) -> None:
    settings = ConsoleSettings(idle_timeout=timedelta(hours=1),
                               session_lifetime=timedelta(hours=8))
    async with console_running(app, settings) as base:
        web = await signed_in(base)
        for _ in range(8):
            clock.advance(timedelta(minutes=55))
            assert (await web.get("/queue")).status == 200
        clock.advance(timedelta(minutes=39))  # 7:59 since sign-in
        assert (await web.get("/queue")).status == 200
        clock.advance(timedelta(minutes=1))
        assert await refused(web)


async def test_two_console_processes_agree_on_who_is_signed_in(
    tmp_path: Path, clock: FixedClock
) -> None:
    db = tmp_path / "shared.db"
    first, second = await open_app(db, clock), await open_app(db, clock)
    try:
        async with console_running(first) as one, console_running(second) as two:
            web = await signed_in(one)
            stolen = web.cookie
            there = Browserless(two, cookie=stolen)
            page = await there.get("/queue")
            assert page.status == 200
            assert (await there.post("/signout", {"csrf_token": page.csrf()})).status == 303
            assert await refused(web)
            assert await refused(Browserless(two, cookie=stolen))
    finally:
        await first.close()
        await second.close()


async def test_the_live_queue_ends_when_the_session_does(app: App) -> None:
    async with console_running(app, ConsoleSettings(poll_seconds=0.05)) as base:
        web = await signed_in(base)
        page = await web.get("/queue")
        first = anyio.Event()

        def arrived(_data: str) -> None:
            anyio.from_thread.run_sync(first.set)

        with anyio.fail_after(30):  # a stream that never ends fails, not hangs
            async with anyio.create_task_group() as tg:
                tg.start_soon(web.stream, "/queue/events", arrived)
                await first.wait()
                await web.post("/signout", {"csrf_token": page.csrf()})
