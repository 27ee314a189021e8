"""`signoff relay --gateway`: the relay runs the invoker, and only a relay
that has the gateway makes upstream calls. A relay without it leaves their
outbox rows pending (never published elsewhere and marked done), so the
call is made once a relay with the gateway runs. Real processes, toybox
behind the gateway counting its calls."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from signoff.server.app import build_app

from .relay_process import relay_once
from .toy_world import approved_call, make_toy_world, status_of

pytestmark = pytest.mark.anyio


def row_statuses(db: Path, topic: str) -> list[str]:
    with sqlite3.connect(db) as conn:
        return [s for (s,) in conn.execute(
            "SELECT status FROM outbox WHERE topic = ? ORDER BY position", (topic,))]


async def test_a_relay_without_the_gateway_leaves_the_call_to_one_with_it(
    tmp_path: Path,
) -> None:
    world = await make_toy_world(tmp_path)
    async with await build_app(world.settings()) as app:
        proposal_id = await approved_call(app)

        without = await relay_once(world.db, principals=world.principals)
        assert without.returncode == 0, without.stderr
        assert row_statuses(world.db, "tool_call.approved") == ["pending"]
        assert world.calls() == []
        assert await status_of(app, proposal_id) == "executing"

        with_gateway = await relay_once(world.db, gateway=world.gateway,
                                        principals=world.principals)
        assert with_gateway.returncode == 0, with_gateway.stderr
        assert world.calls() == ["one"]
        assert row_statuses(world.db, "tool_call.approved") == ["published"]
        assert await status_of(app, proposal_id) == "executed"

        again = await relay_once(world.db, gateway=world.gateway, principals=world.principals)
        assert again.returncode == 0, again.stderr
        assert world.calls() == ["one"]


async def test_a_relay_whose_gateway_needs_a_missing_secret_refuses_to_start(
    tmp_path: Path,
) -> None:
    world = await make_toy_world(tmp_path)
    text = world.gateway.read_text()
    world.gateway.write_text(text.replace(
        "[upstream.env]\n", '[upstream.env]\nSECRET = "env:TOY_RELAY_SECRET"\n'))
    async with await build_app(world.settings()) as app:
        proposal_id = await approved_call(app)
    refused = await relay_once(world.db, gateway=world.gateway, principals=world.principals)
    assert refused.returncode == 2, refused.stderr
    assert "TOY_RELAY_SECRET" in refused.stderr
    assert row_statuses(world.db, "tool_call.approved") == ["pending"]
    assert world.calls() == []
    async with await build_app(world.settings()) as app:
        assert await status_of(app, proposal_id) == "executing"
