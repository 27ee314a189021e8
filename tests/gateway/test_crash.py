"""kill -9 of a relay running the invoker, mid-call, at injected fault points;
restart it; count the upstream's calls. The heart of exactly-once: a call
that may have happened is never made again on its own — it is
`outcome_unknown` until a person settles it (`review resolve`), and a retry
makes exactly one more call. Only a tool declared idempotent is simply tried
again. Real relay processes; the real `mcp-server-git` on a scratch
repository, and toybox, whose `tally` tools count calls in a file."""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path
from typing import Any

import anyio.to_thread
import pytest

from signoff.server.app import App, build_app
from signoff.store.ports import UnitOfWork
from tests.conftest import principal

from . import git_world
from .cli import signoff
from .relay_process import relay_once
from .toy_world import ToyWorld, approved_call, call_events, make_toy_world, status_of

pytestmark = [pytest.mark.anyio, pytest.mark.slow]
UNKNOWN = ["tool_call.approved", "tool_call.started", "tool_call.outcome_unknown"]


def killed(done: subprocess.CompletedProcess[str]) -> bool:
    return done.returncode == -signal.SIGKILL


def passed(done: subprocess.CompletedProcess[str]) -> str:
    """Why a relay pass failed, or '' when it exited 0."""
    return "" if done.returncode == 0 else f"exit {done.returncode}: {done.stderr}"


async def resolve(files: list[str], gateway: Path, proposal_id: str, outcome: str
                  ) -> subprocess.CompletedProcess[str]:
    return await anyio.to_thread.run_sync(lambda: signoff(
        "review", "resolve", proposal_id, "--as", "user:rita", "--outcome", outcome,
        "--reason", "looked upstream after the crash", "--gateway", str(gateway), *files))


async def toy_relay(world: ToyWorld, crash_at: str | None = None
                    ) -> subprocess.CompletedProcess[str]:
    return await relay_once(world.db, gateway=world.gateway, principals=world.principals,
                            crash_at=crash_at)


@pytest.fixture
async def toy(tmp_path: Path) -> ToyWorld:
    return await make_toy_world(tmp_path)


async def test_killed_after_the_call_before_its_outcome_it_is_unknown_until_retried_once(
    toy: ToyWorld,
) -> None:
    async with await build_app(toy.settings()) as app:
        proposal_id = await approved_call(app)
        assert killed(await toy_relay(toy, "invoker.before_outcome"))
        assert toy.calls() == ["one"]  # the call was made; its outcome never recorded

        assert not passed(restarted := await toy_relay(toy)), restarted.stderr
        assert toy.calls() == ["one"]  # found started: not made again
        assert await status_of(app, proposal_id) == "outcome_unknown"
        assert await call_events(app, proposal_id) == UNKNOWN
        assert not passed(idle := await toy_relay(toy)), idle.stderr
        assert toy.calls() == ["one"]

        settled = await resolve(toy.files(), toy.gateway, proposal_id, "retry")
        assert settled.returncode == 0, settled.stderr
        assert "executing" in settled.stdout
        assert not passed(retried := await toy_relay(toy)), retried.stderr
        assert toy.calls() == ["one", "one"]  # exactly one more call
        assert await status_of(app, proposal_id) == "executed"
        assert await call_events(app, proposal_id) == [
            *UNKNOWN, "tool_call.retry_approved", "tool_call.started", "tool_call.completed"]
        assert not passed(idle := await toy_relay(toy)), idle.stderr
        assert toy.calls() == ["one", "one"]


async def test_killed_after_started_before_sending_it_is_unknown_and_never_called(
    toy: ToyWorld,
) -> None:
    async with await build_app(toy.settings()) as app:
        proposal_id = await approved_call(app)
        assert killed(await toy_relay(toy, "invoker.after_started"))
        assert toy.calls() == []
        assert await call_events(app, proposal_id) == UNKNOWN[:2]

        # Nothing was sent, but nothing on record says so: it may have been.
        assert not passed(restarted := await toy_relay(toy)), restarted.stderr
        assert toy.calls() == []
        assert await status_of(app, proposal_id) == "outcome_unknown"
        assert await call_events(app, proposal_id) == UNKNOWN

        settled = await resolve(toy.files(), toy.gateway, proposal_id, "failed")
        assert settled.returncode == 0, settled.stderr
        assert await status_of(app, proposal_id) == "failed"
        assert not passed(idle := await toy_relay(toy)), idle.stderr
        assert toy.calls() == []


async def test_an_idempotent_tool_killed_mid_call_is_simply_called_again(
    toy: ToyWorld,
) -> None:
    async with await build_app(toy.settings()) as app:
        proposal_id = await approved_call(app, tool="tally_again")
        assert killed(await toy_relay(toy, "invoker.before_outcome"))
        assert toy.calls() == ["one"]

        assert not passed(restarted := await toy_relay(toy)), restarted.stderr
        assert toy.calls() == ["one", "one"]
        assert await status_of(app, proposal_id) == "executed"
        assert await call_events(app, proposal_id) == [
            "tool_call.approved", "tool_call.started", "tool_call.started",
            "tool_call.completed"]


async def git_call_events(app: App, proposal_id: str) -> list[tuple[str, dict[str, Any]]]:
    def read(uow: UnitOfWork) -> list[tuple[str, dict[str, Any]]]:
        proposal = uow.proposals.get(proposal_id, None)
        assert proposal is not None
        events = uow.events.stream(git_world.TENANT, "tool_call", proposal.aggregate_id)
        return [(e.event_type, dict(e.payload)) for e in events]
    return list(await app.store.read(read))


async def test_a_git_commit_killed_before_its_outcome_appears_once_in_git_log(
    tmp_path: Path,
) -> None:
    world = await git_world.make_world(tmp_path)
    files = ["--db", str(world.db), "--policy", str(world.policy),
             "--principals", str(world.principals)]
    async with await build_app(world.settings()) as app:
        agent = principal(app, "agent:claude", git_world.TENANT)
        proposal = {"confidence": 0.9, "rationale": "asked by the user"}
        added = await app.proposals.submit(agent, "tool.repo.git_add", {
            **proposal, "repo_path": str(world.repo), "files": ["notes.txt"]})
        assert added.status == "executing"  # allowed: waits for the invoker
        commit = await app.proposals.submit(agent, "tool.repo.git_commit", {
            **proposal, "repo_path": str(world.repo), "message": "Add notes"})
        assert commit.proposal_id is not None
        vote = await app.approvals.approve(principal(app, "user:rita", git_world.TENANT),
                                           commit.proposal_id, digest=None, channel="cli")
        assert vote.proposal.status == "executing"

        # The add's outcome is recorded (first time at the point); the commit
        # is made, and the relay dies before its outcome (second time).
        crashed = await relay_once(world.db, gateway=world.gateway,
                                   principals=world.principals,
                                   crash_at="invoker.before_outcome:2")
        assert killed(crashed), crashed.stderr
        assert world.commits() == ["Add notes", "initial"]

        restarted = await relay_once(world.db, gateway=world.gateway,
                                     principals=world.principals)
        assert not passed(restarted), restarted.stderr
        assert world.commits() == ["Add notes", "initial"]  # no second commit
        assert await status_of(app, commit.proposal_id) == "outcome_unknown"
        assert await status_of(app, added.proposal_id or "") == "executed"
        assert [t for t, _ in await git_call_events(app, commit.proposal_id)] == UNKNOWN

        settled = await resolve(files, world.gateway, commit.proposal_id, "retry")
        assert settled.returncode == 0, settled.stderr
        retried = await relay_once(world.db, gateway=world.gateway,
                                   principals=world.principals)
        assert not passed(retried), retried.stderr
        # One more call, and only one: git refuses it (the change is committed
        # already, nothing is staged), so the call ends failed, in git's words.
        events = await git_call_events(app, commit.proposal_id)
        assert [t for t, _ in events] == [
            *UNKNOWN, "tool_call.retry_approved", "tool_call.started", "tool_call.failed"]
        assert "No changes staged" in str(events[-1][1]["result"])
        assert await status_of(app, commit.proposal_id) == "failed"
        assert world.commits() == ["Add notes", "initial"]
