"""Writes to a real `mcp-server-git` become proposals; each approved call is
made once. Services on a real SQLite file, the real upstream over stdio."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from signoff.server.app import App
from signoff.server.delivery.relay import Relay
from signoff.server.errors import Forbidden
from signoff.server.gateway import INVOKER, call_view, preview
from tests.conftest import principal

from .git_world import TENANT, GitWorld, make_world, serving

pytestmark = pytest.mark.anyio
AGENT = "agent:claude"


@pytest.fixture
async def world(tmp_path: Path) -> GitWorld:
    return await make_world(tmp_path)


async def propose(app: App, tool: str, **arguments: Any) -> Any:
    return await app.proposals.submit(principal(app, AGENT, TENANT), tool, {
        **arguments, "confidence": 0.9, "rationale": "asked by the user"})


async def drain(relay: Relay) -> None:
    while (await relay.run_once()).claimed:
        pass


async def call_events(app: App, proposal_id: str) -> list[str]:
    def read(uow: Any) -> list[str]:
        proposal = uow.proposals.get(proposal_id, None)
        events = uow.events.stream(TENANT, "tool_call", proposal.aggregate_id)
        return [e.event_type for e in events]
    return list(await app.store.read(read))


async def test_an_allowed_add_runs_once_and_a_commit_waits_for_its_reviewer(
    world: GitWorld,
) -> None:
    async with serving(world) as (app, _runtime, relay):
        added = await propose(app, "tool.repo.git_add", repo_path=str(world.repo),
                              files=["notes.txt"])
        assert added.status == "executing"
        await drain(relay)
        done = await app.proposals.receipt(principal(app, AGENT, TENANT), added.proposal_id)
        assert done is not None
        assert done.status == "executed"
        assert done.result is not None
        assert await call_events(app, added.proposal_id) == [
            "tool_call.approved", "tool_call.started", "tool_call.completed"]

        commit = await propose(app, "tool.repo.git_commit", repo_path=str(world.repo),
                               message="Add notes")
        assert commit.status == "pending_approval"
        await drain(relay)
        assert world.commits() == ["initial"]  # nothing happens before the vote
        stored = await app.store.read(lambda uow: uow.proposals.get(commit.proposal_id, None))
        assert stored is not None
        vote = await app.approvals.approve(principal(app, "user:rita", TENANT),
                                           commit.proposal_id, digest=stored.payload_digest,
                                           channel="cli")
        assert vote.proposal.status == "executing"
        await drain(relay)
        assert world.commits() == ["Add notes", "initial"]
        # the same message delivered again (as after a crash before the relay
        # marked it published) finds the inbox row: no second call
        [approved] = await app.store.read(lambda uow: [
            m for m in uow.outbox.find(limit=1000) if m.topic == "tool_call.approved"
            and m.aggregate_id == stored.aggregate_id])
        [invoker] = [s for s in relay.sinks if s.name == INVOKER]
        await invoker.publish(approved)
        assert world.commits() == ["Add notes", "initial"]


async def test_a_rejected_commit_is_never_called(world: GitWorld) -> None:
    async with serving(world) as (app, _runtime, relay):
        commit = await propose(app, "tool.repo.git_commit", repo_path=str(world.repo),
                               message="Never")
        await app.approvals.reject(principal(app, "user:rita", TENANT), commit.proposal_id,
                                   reason="not now", digest=None, channel="cli")
        await drain(relay)
        assert world.commits() == ["initial"]


async def test_the_agent_cannot_vote_and_arguments_are_checked_against_the_pin(
    world: GitWorld,
) -> None:
    async with serving(world) as (app, _runtime, _relay):
        bad = await propose(app, "tool.repo.git_commit", repo_path=str(world.repo), message=7)
        assert bad.outcome == "validation_error"
        assert bad.proposal_id is None
        commit = await propose(app, "tool.repo.git_commit", repo_path=str(world.repo),
                               message="x")
        with pytest.raises(Forbidden):
            await app.approvals.approve(principal(app, AGENT, TENANT), commit.proposal_id,
                                        digest=None, channel="cli")


async def test_a_reviewer_sees_the_call_its_pinned_description_and_the_preview(
    world: GitWorld,
) -> None:
    async with serving(world) as (app, runtime, relay):
        await propose(app, "tool.repo.git_add", repo_path=str(world.repo), files=["notes.txt"])
        await drain(relay)
        commit = await propose(app, "tool.repo.git_commit", repo_path=str(world.repo),
                               message="Add notes")
        stored = await app.store.read(lambda uow: uow.proposals.get(commit.proposal_id, None))
        assert stored is not None
        assert app.gateway is not None
        view = call_view(app.gateway, stored)
        assert view is not None
        assert view.will_call == "approving will call repo.git_commit once"
        assert view.arguments == {"repo_path": str(world.repo), "message": "Add notes"}
        assert view.description == app.gateway.pinned("repo", "git_commit").description  # type: ignore[union-attr]
        assert view.preview_tool == "git_diff_staged"
        shown = await preview(runtime, view, TENANT)
        assert "+a line" in shown  # the staged change the commit would record
