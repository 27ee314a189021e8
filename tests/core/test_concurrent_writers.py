"""Several signoff processes on one PostgreSQL database are one signoff:
idempotency keys, rate limits, votes and quorum hold when their writes race,
because each lives in the database. Two apps here are two processes as far
as the store is concerned (each has its own connection pool); requests
alternate between them as behind a round-robin balancer. SQLite runs every
write job alone, so these races only exist on PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path

import anyio
import pytest

from signoff.server.app import App, Settings, build_app
from signoff.server.services.proposals import CallContext
from signoff.server.services.receipts import Receipt
from tests.conftest import principal
from tests.store.postgres import scratch_schema

pytestmark = pytest.mark.anyio

CASE = "case-acme-001"
LIMITED = """
[limits]
per_agent_per_hour = {hourly}
proposals_per_run = 1000

[[rule]]
id = "brief.allow"
commands = ["brief.create"]
effect = "allow"

[[rule]]
id = "draft.allow"
commands = ["notice.create_draft"]
effect = "allow"

[[rule]]
id = "escalate.two"
commands = ["case.escalate"]
effect = "ask"
approvers = {{ roles = ["supervisor", "legal"], count = 2, distinct = true }}
"""


@pytest.fixture
def url() -> Iterator[str]:
    with scratch_schema() as scratch:
        yield scratch


async def two_apps(url: str, policy: Path | None = None) -> tuple[App, App]:
    first = await build_app(Settings(db=url, policy=policy))
    await first.seed_if_empty()
    return first, await build_app(Settings(db=url, policy=policy))


@pytest.fixture
async def apps(url: str, tmp_path: Path) -> AsyncIterator[tuple[App, App]]:
    policy = tmp_path / "policy.toml"
    policy.write_text(LIMITED.format(hourly=5))
    pair = await two_apps(url, policy)
    try:
        yield pair
    finally:
        for app in pair:
            await app.close()


async def side_by_side(calls: list[tuple[App, dict[str, object]]],
                       command: str = "brief.create") -> list[Receipt]:
    receipts: list[Receipt | None] = [None] * len(calls)

    async def one(n: int, app: App, arguments: dict[str, object]) -> None:
        agent = principal(app, "agent:triage")
        receipts[n] = await app.proposals.submit(agent, command, arguments,
                                                 CallContext(run_id="run-race"))

    async with anyio.create_task_group() as tasks:
        for n, (app, arguments) in enumerate(calls):
            tasks.start_soon(one, n, app, arguments)
    return [r for r in receipts if r is not None]


def brief(n: int, key: str | None = None) -> dict[str, object]:
    arguments: dict[str, object] = {"case_id": CASE, "summary": f"note {n}", "confidence": 0.9}
    if key is not None:
        arguments["idempotency_key"] = key
    return arguments


async def test_one_idempotency_key_makes_one_proposal_across_processes(
    apps: tuple[App, App]
) -> None:
    receipts = await side_by_side([(apps[n % 2], brief(0, key="same-key")) for n in range(4)])
    assert len({r.proposal_id for r in receipts}) == 1, receipts
    assert sorted(r.outcome for r in receipts) == [
        "accepted", "duplicate_accepted", "duplicate_accepted", "duplicate_accepted"]
    found = await apps[1].store.read(lambda uow: uow.proposals.find(command_type="brief.create"))
    assert len(found) == 1


def draft(n: int) -> dict[str, object]:
    return {"case_id": CASE, "body": f"Notice {n}.", "rationale": "racing",
            "evidence_refs": ["ev-acme-001-a"], "confidence": 0.9}


async def test_the_hourly_limit_holds_when_proposals_race(apps: tuple[App, App]) -> None:
    """Each draft is a new notice, so nothing but the counters orders them."""
    receipts = await side_by_side([(apps[n % 2], draft(n)) for n in range(12)],
                                  command="notice.create_draft")
    executed = [r for r in receipts if r.status == "executed"]
    assert len(executed) == 5, [r.reason for r in receipts]
    assert all(r.status == "rejected" for r in receipts if r not in executed)


async def test_commands_on_one_aggregate_wait_for_each_other(apps: tuple[App, App]) -> None:
    """No version check fails: each sees the one before it committed."""
    receipts = await side_by_side([(apps[n % 2], brief(n)) for n in range(4)])
    assert [r.status for r in receipts] == ["executed"] * 4, [r.reason for r in receipts]
    events = await apps[0].store.read(
        lambda uow: [e for e in uow.events.stream("acme", "case", CASE)
                     if e.event_type == "case.brief_added"])
    assert len(events) == 4


async def test_two_approvals_in_two_processes_execute_the_proposal_once(
    apps: tuple[App, App]
) -> None:
    """End to end only: the two votes rarely overlap here, so this also passes
    without the row lock; what makes overlapping votes safe (a second claim
    waits and reads the first's commit) is pinned down deterministically in
    tests/store/test_postgres_proposal_claims.py."""
    first, second = apps
    agent = principal(first, "agent:triage")
    version = await first.store.read(lambda uow: uow.events.version("acme", "case", CASE))
    receipt = await first.proposals.submit(agent, "case.escalate", {
        "case_id": CASE, "expected_version": version, "confidence": 0.8,
        "evidence_refs": ["ev-acme-001-a"]})
    assert receipt.status == "pending_approval", receipt
    proposal_id = receipt.proposal_id
    assert proposal_id is not None

    async def approve(app: App, who: str) -> None:
        await app.approvals.approve(principal(app, who), proposal_id, digest=None,
                                    channel="cli", comment="ok")

    async with anyio.create_task_group() as tasks:
        tasks.start_soon(approve, first, "user:alice")
        tasks.start_soon(approve, second, "user:bob")

    stored = await second.store.read(lambda uow: uow.proposals.get(proposal_id, None))
    assert stored is not None
    assert stored.status == "executed"
    votes = await second.store.read(lambda uow: uow.proposals.votes(proposal_id))
    assert sorted(v.voter_id for v in votes) == ["user:alice", "user:bob"]
    escalated = await first.store.read(
        lambda uow: [e for e in uow.events.stream("acme", "case", CASE)
                     if e.event_type == "case.escalated"])
    assert len(escalated) == 1


async def test_without_limits_every_racing_proposal_is_still_counted(
    url: str, tmp_path: Path
) -> None:
    """No rule reads the counts, so each is taken at the end of its
    transaction rather than before judging: none may be lost either way."""
    policy = tmp_path / "unlimited.toml"
    unlimited = LIMITED.replace(
        "[limits]\nper_agent_per_hour = {hourly}\nproposals_per_run = 1000\n", "")
    policy.write_text(unlimited.replace("{{", "{").replace("}}", "}"))
    pair = await two_apps(url, policy)
    try:
        assert not pair[0].gate().policy.reads_counts
        receipts = await side_by_side([(pair[n % 2], draft(n)) for n in range(12)],
                                      command="notice.create_draft")
        assert [r.status for r in receipts] == ["executed"] * 12
        agent = principal(pair[0], "agent:triage")
        counts = await pair[1].store.read(
            lambda uow: uow.rates.counts(agent.id, "run-race", datetime.now(UTC)))
        assert counts == (12, 12)
    finally:
        for app in pair:
            await app.close()
