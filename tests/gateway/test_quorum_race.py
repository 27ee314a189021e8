"""Two reviewers racing on a 2-of-2 rule (`tool.repo.git_create_branch` asks
two reviewers): their votes land at the same moment, from two apps on one
SQLite file or from two `signoff review approve` processes, and the real
`mcp-server-git` is called exactly once."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import anyio
import pytest

from signoff.server.app import App, build_app
from signoff.server.gateway import TOOL_CALL
from signoff.store.ports import UnitOfWork
from tests.conftest import principal

from .box_world import drain
from .git_world import TENANT, GitWorld, git, make_world, serving

pytestmark = pytest.mark.anyio
AGENT = "agent:claude"
REVIEWERS = ("user:rita", "user:rafa")
BRANCH = "feature-x"
# A bound for one CLI process on a loaded machine, not a measurement.
PROCESS_BOUND = 120


async def propose_branch(app: App, world: GitWorld) -> str:
    receipt = await app.proposals.submit(principal(app, AGENT, TENANT),
                                         "tool.repo.git_create_branch", {
        "repo_path": str(world.repo), "branch_name": BRANCH, "confidence": 0.9,
        "rationale": "the user asked for a branch"})
    assert receipt.status == "pending_approval", receipt
    assert receipt.proposal_id is not None
    return receipt.proposal_id


async def facts(app: App, proposal_id: str) -> tuple[str, list[str], int]:
    """The proposal's status, its call's event types, and how many
    `tool_call.approved` messages the outbox holds for it."""
    def read(uow: UnitOfWork) -> tuple[str, list[str], int]:
        proposal = uow.proposals.get(proposal_id, None)
        assert proposal is not None
        events = uow.events.stream(TENANT, TOOL_CALL.name, proposal.aggregate_id)
        sent = [m for m in uow.outbox.find(limit=1000) if m.topic == "tool_call.approved"
                and m.aggregate_id == proposal.aggregate_id]
        return proposal.status, [e.event_type for e in events], len(sent)
    return await app.store.read(read)


def branches(world: GitWorld) -> list[str]:
    return git(world.repo, "branch", "--list", "--format=%(refname:short)").split()


async def assert_called_once(app: App, world: GitWorld, proposal_id: str) -> None:
    status, events, approved_messages = await facts(app, proposal_id)
    assert status == "executed"
    assert events == ["tool_call.approved", "tool_call.started", "tool_call.completed"]
    assert approved_messages == 1
    assert branches(world).count(BRANCH) == 1


async def test_two_apps_approving_at_once_make_one_call(tmp_path: Path) -> None:
    world = await make_world(tmp_path)
    async with serving(world) as (app, _runtime, relay), \
            await build_app(world.settings()) as other:
        proposal_id = await propose_branch(app, world)
        go = anyio.Event()
        statuses: dict[str, str] = {}

        async def vote(on: App, reviewer: str) -> None:
            await go.wait()
            result = await on.approvals.approve(principal(on, reviewer, TENANT), proposal_id,
                                                digest=None, channel="cli")
            statuses[reviewer] = result.proposal.status

        async with anyio.create_task_group() as tg:
            tg.start_soon(vote, app, REVIEWERS[0])
            tg.start_soon(vote, other, REVIEWERS[1])
            go.set()
        # one vote was first (1 of 2), the other completed the quorum
        assert sorted(statuses.values()) == ["executing", "pending_approval"]
        assert BRANCH not in branches(world)  # nothing before the relay delivers
        await drain(relay)
        await assert_called_once(app, world, proposal_id)
        await drain(relay)  # nothing left to deliver
        await assert_called_once(app, world, proposal_id)


def approve_in_a_process(
    world: GitWorld, proposal_id: str, reviewer: str
) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "signoff.server.cli", "review", "approve", proposal_id, "--as",
         reviewer, "--db", str(world.db), "--policy", str(world.policy), "--principals",
         str(world.principals)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True,
        env={**os.environ, "SIGNOFF_GATEWAY": str(world.gateway)})


def finish(process: subprocess.Popen[str]) -> tuple[str, str]:
    return process.communicate(timeout=PROCESS_BOUND)


async def test_two_reviewer_processes_approving_at_once_make_one_call(tmp_path: Path) -> None:
    world = await make_world(tmp_path)
    async with serving(world) as (app, _runtime, relay):
        proposal_id = await propose_branch(app, world)
        voters = [approve_in_a_process(world, proposal_id, r) for r in REVIEWERS]
        for voter in voters:
            out, errors = await anyio.to_thread.run_sync(finish, voter)
            assert voter.returncode == 0, out + errors
        await drain(relay)
        await assert_called_once(app, world, proposal_id)
