"""`signoff review resolve`: a person settles an upstream call whose outcome
is unknown. Succeeded → executed, failed → failed, retry → exactly one more
call; every refusal exits 1 with its reason and writes nothing. The real CLI
on the app's SQLite file; toybox behind the gateway counts its calls."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from pathlib import Path

import anyio.to_thread
import pytest
from typer.testing import CliRunner, Result

from signoff.server.app import App, build_app
from tests.review.helpers import json_out, snapshot

from .toy_world import (
    PRINCIPALS,
    ToyWorld,
    approved_call,
    call_events,
    drain,
    invoking,
    make_toy_world,
    status_of,
    unknown_call,
)

pytestmark = pytest.mark.anyio
RITA_TOKEN = "rita-token-0123456789"


@pytest.fixture
async def world(tmp_path: Path) -> ToyWorld:
    return await make_toy_world(tmp_path)


@pytest.fixture
async def app(world: ToyWorld) -> AsyncIterator[App]:
    async with await build_app(world.settings()) as app:
        yield app


async def resolve(world: ToyWorld, proposal_id: str, who: str, *args: str,
                  token: str | None = None) -> Result:
    """The real CLI on a worker thread; the gateway from $SIGNOFF_GATEWAY."""
    from signoff.server.cli import app as signoff

    env = {"COLUMNS": "240", "SIGNOFF_GATEWAY": str(world.gateway),
           "SIGNOFF_REVIEWER_TOKEN": token}
    argv = ["review", "resolve", proposal_id, "--as", who, *world.files(), *args]

    def run() -> Result:
        return CliRunner().invoke(signoff, argv, env=env)

    return await anyio.to_thread.run_sync(run)


async def test_retry_makes_exactly_one_more_call(app: App, world: ToyWorld) -> None:
    proposal_id = await unknown_call(app, world)
    assert world.calls() == []  # the attempt that died never reached toybox

    result = await resolve(world, proposal_id, "user:rita", "--outcome", "retry",
                           "--reason", "toybox shows no call")
    assert result.exit_code == 0, result.output
    assert f"{proposal_id} settled as retry by user:rita; it is now executing" in " ".join(
        result.stdout.split())
    async with invoking(app, world) as relay:
        await drain(relay)
        await drain(relay)  # nothing left: a second pass calls nothing
    assert world.calls() == ["one"]
    assert await status_of(app, proposal_id) == "executed"
    assert await call_events(app, proposal_id) == [
        "tool_call.approved", "tool_call.started", "tool_call.outcome_unknown",
        "tool_call.retry_approved", "tool_call.started", "tool_call.completed"]


@pytest.mark.parametrize(("outcome", "status"), [("succeeded", "executed"),
                                                 ("failed", "failed")])
async def test_succeeded_executes_and_failed_fails_and_neither_calls(
    app: App, world: ToyWorld, outcome: str, status: str,
) -> None:
    proposal_id = await unknown_call(app, world)
    result = await resolve(world, proposal_id, "user:rafa", "--outcome", outcome,
                           "--reason", "checked upstream", "--json")
    assert result.exit_code == 0, result.output
    [doc] = json_out(result)
    assert doc == {"ok": True, "proposal_id": proposal_id, "outcome": outcome,
                   "by": "user:rafa", "status": status, "status_reason": doc["status_reason"]}
    assert "user:rafa" in doc["status_reason"]
    assert "checked upstream" in doc["status_reason"]
    assert await status_of(app, proposal_id) == status
    async with invoking(app, world) as relay:
        await drain(relay)
    assert world.calls() == []
    assert (await call_events(app, proposal_id))[-1] == "tool_call.resolved"


@pytest.mark.parametrize(("who", "error", "message"), [
    ("agent:claude", "forbidden", "only people can settle an upstream call"),
    ("user:olga", "forbidden", "settling this needs the role reviewer"),
    ("user:gus", "not_found", "not found"),  # another tenant's proposal
])
async def test_an_agent_someone_without_the_role_or_of_another_tenant_is_refused(
    app: App, world: ToyWorld, who: str, error: str, message: str,
) -> None:
    proposal_id = await unknown_call(app, world)
    before = snapshot(world.db)
    for output in ([], ["--json"]):
        result = await resolve(world, proposal_id, who, "--outcome", "succeeded",
                               "--reason", "looked", *output)
        assert result.exit_code == 1, result.output
        assert message in " ".join(result.output.split())
        if output:
            assert json_out(result) == [{"ok": False, "error": error,
                                         "message": json_out(result)[0]["message"]}]
    assert snapshot(world.db) == before
    assert await status_of(app, proposal_id) == "outcome_unknown"


async def test_the_proposer_cannot_settle_their_own_call(app: App, world: ToyWorld) -> None:
    proposal_id = await unknown_call(app, world, proposer="user:rita")
    before = snapshot(world.db)
    result = await resolve(world, proposal_id, "user:rita", "--outcome", "retry",
                           "--reason", "mine")
    assert result.exit_code == 1, result.output
    assert "you proposed this; someone else must settle it" in " ".join(result.output.split())
    assert snapshot(world.db) == before
    async with invoking(app, world) as relay:
        await drain(relay)
    assert world.calls() == []


async def test_only_a_call_whose_outcome_is_unknown_can_be_settled(
    app: App, world: ToyWorld,
) -> None:
    proposal_id = await approved_call(app)  # approved, not yet invoked: executing
    before = snapshot(world.db)
    result = await resolve(world, proposal_id, "user:rafa", "--outcome", "succeeded",
                           "--reason", "too early")
    assert result.exit_code == 1, result.output
    assert "only a call whose outcome is unknown can be settled" in " ".join(
        result.output.split())
    assert snapshot(world.db) == before
    empty = await resolve(world, proposal_id, "user:rafa", "--outcome", "retry",
                          "--reason", " ")
    assert empty.exit_code == 1, empty.output
    assert "needs a reason" in empty.output
    assert snapshot(world.db) == before


async def test_where_cli_votes_need_a_token_settling_needs_one_too(tmp_path: Path) -> None:
    digest = hashlib.sha256(RITA_TOKEN.encode()).hexdigest()
    principals = 'cli_votes = "token"\n\n' + PRINCIPALS.replace(
        'id = "user:rita"\nkind = "user"\ntenants = ["local"]\nroles = ["reviewer"]\n',
        f'id = "user:rita"\nkind = "user"\ntenants = ["local"]\nroles = ["reviewer"]\n'
        f'token_sha256 = "{digest}"\n')
    world = await make_toy_world(tmp_path, principals=principals)
    async with await build_app(world.settings()) as app:
        proposal_id = await unknown_call(app, world)
        before = snapshot(world.db)
        for token in (None, "wrong-token"):
            refused = await resolve(world, proposal_id, "user:rita", "--outcome", "failed",
                                    "--reason", "x", token=token)
            assert refused.exit_code == 1, refused.output
            assert "token" in refused.output
            assert snapshot(world.db) == before
        done = await resolve(world, proposal_id, "user:rita", "--outcome", "failed",
                             "--reason", "x", token=RITA_TOKEN)
        assert done.exit_code == 0, done.output
        assert await status_of(app, proposal_id) == "failed"
