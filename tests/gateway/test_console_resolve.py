"""The console settles an upstream call whose outcome is unknown, under the
same rule as `signoff review resolve`: the proposal page offers it only for
such a call; a reviewer's retry makes exactly one more call; someone without
the role is refused and nothing is written. A real uvicorn console, toybox
behind the gateway counting its calls."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from signoff.server.app import build_app
from tests.console.harness import console_running
from tests.console.http import Browserless
from tests.review.helpers import snapshot

from .toy_world import (
    PRINCIPALS,
    ToyWorld,
    approved_call,
    drain,
    invoking,
    make_toy_world,
    unknown_call,
)

pytestmark = pytest.mark.anyio
TOKENS = {"user:rita": "rita-console-token", "user:olga": "olga-console-token"}


def with_tokens(text: str) -> str:
    for who, token in TOKENS.items():
        digest = hashlib.sha256(token.encode()).hexdigest()
        head = f'id = "{who}"\n'
        text = text.replace(head, f'{head}token_sha256 = "{digest}"\n')
    return text


@pytest.fixture
async def world(tmp_path: Path) -> ToyWorld:
    return await make_toy_world(tmp_path, principals=with_tokens(PRINCIPALS))


async def test_a_reviewer_retries_an_unknown_call_from_its_page_once(world: ToyWorld) -> None:
    async with await build_app(world.settings()) as app:
        waiting = await approved_call(app, label="waiting")  # executing: nothing to settle
        proposal_id = await unknown_call(app, world)
        async with console_running(app) as base:
            web = Browserless(base)
            await web.sign_in(TOKENS["user:rita"])
            assert 'data-testid="resolve"' not in (await web.get(f"/proposals/{waiting}")).body
            page = await web.get(f"/proposals/{proposal_id}")
            assert 'data-testid="resolve"' in page.body
            sent = await web.post(f"/proposals/{proposal_id}/resolve", {
                "csrf_token": page.csrf(), "outcome": "retry", "reason": "no call upstream"})
            assert sent.status == 303
            shown = await web.get(f"/proposals/{proposal_id}")
            assert "Settled as retry. The proposal is executing." in shown.body
        async with invoking(app, world) as relay:
            await drain(relay)
        assert world.calls() == ["waiting", "one"]  # the waiting call, and one retry


async def test_someone_without_the_role_is_refused_and_nothing_is_written(
    world: ToyWorld,
) -> None:
    async with await build_app(world.settings()) as app:
        proposal_id = await unknown_call(app, world)
        async with console_running(app) as base:
            web = Browserless(base)
            await web.sign_in(TOKENS["user:olga"])
            page = await web.get(f"/proposals/{proposal_id}")
            before = snapshot(world.db)
            bad = await web.post(f"/proposals/{proposal_id}/resolve", {
                "csrf_token": page.csrf(), "outcome": "maybe", "reason": "x"})
            assert bad.status == 400
            forged = await web.post(f"/proposals/{proposal_id}/resolve", {
                "csrf_token": "forged", "outcome": "succeeded", "reason": "x"})
            assert forged.status == 403
            refused = await web.post(f"/proposals/{proposal_id}/resolve", {
                "csrf_token": page.csrf(), "outcome": "succeeded", "reason": "x"})
            assert refused.status == 303
            shown = await web.get(f"/proposals/{proposal_id}")
            assert "Refused: settling this needs the role reviewer" in shown.body
            assert snapshot(world.db) == before
