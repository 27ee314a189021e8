"""`signoff trace` of a gateway proposal shows the upstream call as its side
effect: approved, then each attempt from started to how it ended (with the
time it took), and what people settled in between. The real `mcp-server-git`
on a scratch repository, a relay running the invoker."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from signoff.server.app import App
from signoff.server.delivery.relay import Relay
from signoff.server.gateway.calls import STARTED
from signoff.server.ops.trace import Trace, TraceStep, trace_of
from signoff.store.ports import UnitOfWork
from tests.conftest import principal

from .git_world import TENANT, GitWorld, make_world, serving

pytestmark = pytest.mark.anyio
AGENT = "agent:claude"


@pytest.fixture
async def world(tmp_path: Path) -> GitWorld:
    return await make_world(tmp_path)


async def propose(app: App, tool: str, **arguments: Any) -> str:
    receipt = await app.proposals.submit(principal(app, AGENT, TENANT), tool, {
        **arguments, "confidence": 0.9, "rationale": "asked by the user"})
    assert receipt.proposal_id is not None, receipt
    return receipt.proposal_id


async def drain(relay: Relay) -> None:
    while (await relay.run_once()).claimed:
        pass


async def traced(app: App, proposal_id: str) -> Trace:
    found = await trace_of(app, proposal_id)
    assert found is not None
    return found


def steps(trace: Trace, kind: str) -> list[TraceStep]:
    return [s for s in trace.steps if s.kind == kind]


def attempts(trace: Trace) -> list[TraceStep]:
    return [s for s in steps(trace, "side_effect") if s.step_id.startswith("call:")]


def assert_causal_order(trace: Trace) -> None:
    seen: set[str] = set()
    for step in trace.steps:
        assert set(step.caused_by) <= seen, step.step_id
        seen.add(step.step_id)


async def test_an_allowed_call_is_traced_from_approval_to_completion(world: GitWorld) -> None:
    async with serving(world) as (app, _runtime, relay):
        added = await propose(app, "tool.repo.git_add", repo_path=str(world.repo),
                              files=["notes.txt"])
        await drain(relay)
        trace = await traced(app, added)
    assert_causal_order(trace)
    [approved] = [s for s in steps(trace, "event") if "tool_call.approved" in s.label]
    executing = next(s for s in steps(trace, "status") if s.label == "proposal executing")
    executed = next(s for s in steps(trace, "status") if s.label == "proposal executed")
    [attempt] = attempts(trace)
    assert approved.caused_by == [executing.step_id]
    assert "repo.git_add approved to be called once" in approved.label
    assert attempt.caused_by == [approved.step_id]
    assert attempt.label.startswith("upstream call repo.git_add attempt 1: completed after ")
    details = attempt.details
    assert details["outcome"] == "completed"
    assert details["started_at"] <= details["ended_at"]
    assert details["duration_ms"] == round(
        (details["ended_at"] - details["started_at"]).total_seconds() * 1000, 3)
    assert details["result"]["isError"] is False
    assert attempt.step_id in executed.caused_by  # the completion made it executed
    # The invoker's inbox row: it handled the approval's delivery.
    delivery = next(s for s in steps(trace, "delivery")
                    if s.details["topic"] == "tool_call.approved")
    assert delivery.caused_by == [approved.step_id]
    assert any(s.label == "gateway-invoker handled tool_call.approved"
               for s in steps(trace, "side_effect"))


async def test_an_unknown_outcome_its_retry_and_the_second_attempt_are_traced(
    world: GitWorld,
) -> None:
    async with serving(world) as (app, _runtime, relay):
        await propose(app, "tool.repo.git_add", repo_path=str(world.repo), files=["notes.txt"])
        await drain(relay)
        commit = await propose(app, "tool.repo.git_commit", repo_path=str(world.repo),
                               message="Add notes")
        stored = await app.store.read(lambda uow: uow.proposals.get(commit, None))
        assert stored is not None
        await app.approvals.approve(principal(app, "user:rita", TENANT), commit,
                                    digest=stored.payload_digest, channel="cli")
        # The invoker committed `started` and died before the request went out.
        await app.store.write(lambda uow: _started(app, uow, commit))
        await drain(relay)  # the redelivery finds it started: outcome unknown, no call
        assert world.commits() == ["initial"]
        await app.resolutions.resolve(principal(app, "user:rafa", TENANT), commit, "retry",
                                      "not in git log")
        await drain(relay)
        assert world.commits() == ["Add notes", "initial"]
        trace = await traced(app, commit)
    assert_causal_order(trace)
    first, second = attempts(trace)
    [retry] = [s for s in steps(trace, "side_effect") if "one more attempt" in s.label]
    assert first.details["outcome"] == "outcome unknown"
    assert "stopped during the call" in first.details["reason"]
    assert (retry.actor, retry.details["reason"]) == ("user:rafa", "not in git log")
    assert retry.label == "user:rafa asked for one more attempt"
    assert retry.caused_by == [first.step_id]
    assert second.caused_by == [retry.step_id]
    assert second.label.startswith("upstream call repo.git_commit attempt 2: completed after")
    statuses = {s.label: s for s in steps(trace, "status")}
    assert first.step_id in statuses["proposal outcome_unknown"].caused_by
    assert second.step_id in statuses["proposal executed"].caused_by
    order = [s.step_id for s in trace.steps]
    assert order.index(first.step_id) < order.index(retry.step_id) < order.index(
        second.step_id)


def _started(app: App, uow: UnitOfWork, proposal_id: str) -> None:
    proposal = uow.proposals.get(proposal_id, None)
    assert proposal is not None
    loaded = app.settler.load(uow, TENANT, proposal.aggregate_id)
    app.settler.record(uow, proposal, loaded.version, STARTED, {"attempt": 1})
