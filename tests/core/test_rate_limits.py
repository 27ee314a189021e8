"""What the limits bound, whatever the client sends (issue 10, item 11):
`per_agent_per_hour` an agent across all its tenants, `proposals_per_run` an
agent's run, with the proposals it makes without a run id counted as one run.
Both are kept as counters beside the proposals (issue 13, lever 1)."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from signoff.policies import PrincipalFacts
from signoff.server.app import App, Database
from signoff.server.clock import FixedClock
from signoff.server.services.proposals import CallContext
from signoff.server.services.receipts import Receipt
from signoff.store.ports import UnitOfWork
from signoff.store.records import ProposalRecord
from tests.conftest import open_app, principal
from tests.databases import both_adapters, query

pytestmark = [pytest.mark.anyio, both_adapters]

POLICY = """
[limits]
per_agent_per_hour = {hourly}
proposals_per_run = {per_run}

[[rule]]
id = "brief.allow"
commands = ["brief.create"]
effect = "allow"
"""
CASES = {"acme": "case-acme-001", "globex": "case-globex-001"}


async def limited_app(db: Database, clock: FixedClock, tmp_path: Path, *, hourly: int = 1000,
                      per_run: int = 1000) -> App:
    policy = tmp_path / "policy.toml"
    policy.write_text(POLICY.format(hourly=hourly, per_run=per_run))
    return await open_app(db, clock, policy=policy)


@pytest.fixture
async def apps(db: Database, clock: FixedClock, tmp_path: Path) -> AsyncIterator[list[App]]:
    opened: list[App] = []
    yield opened
    for app in opened:
        await app.close()


async def brief(app: App, agent: PrincipalFacts, run_id: str | None = None) -> Receipt:
    return await app.proposals.submit(
        agent, "brief.create",
        {"case_id": CASES[agent.tenant], "summary": "a note", "confidence": 0.9},
        CallContext(run_id=run_id),
    )


def outcomes(receipts: list[Receipt]) -> list[str]:
    return [r.status if r.status == "executed" or r.decision is None else r.decision.rule_id
            for r in receipts]


async def test_the_hourly_cap_counts_an_agent_across_its_tenants(
    db: Database, clock: FixedClock, tmp_path: Path, apps: list[App]
) -> None:
    app = await limited_app(db, clock, tmp_path, hourly=4)
    apps.append(app)
    acme, globex = principal(app, "agent:triage"), principal(app, "agent:triage", "globex")
    made = [await brief(app, acme, "run-a"), await brief(app, globex, "run-b"),
            await brief(app, acme, "run-a"), await brief(app, globex, "run-b")]
    assert outcomes(made) == ["executed"] * 4
    over = [await brief(app, acme, "run-a"), await brief(app, globex, "run-c")]
    assert outcomes(over) == ["limits.per_agent_per_hour"] * 2


async def test_the_hourly_cap_forgets_a_proposal_an_hour_after_its_minute(
    db: Database, clock: FixedClock, tmp_path: Path, apps: list[App]
) -> None:
    app = await limited_app(db, clock, tmp_path, hourly=2)
    apps.append(app)
    agent = principal(app, "agent:triage")
    assert outcomes([await brief(app, agent), await brief(app, agent)]) == ["executed"] * 2
    clock.advance(timedelta(minutes=60))
    assert outcomes([await brief(app, agent)]) == ["limits.per_agent_per_hour"]
    clock.advance(timedelta(minutes=1))
    assert outcomes([await brief(app, agent)]) == ["executed"]


async def test_without_a_run_id_the_run_limit_still_holds(
    db: Database, clock: FixedClock, tmp_path: Path, apps: list[App]
) -> None:
    app = await limited_app(db, clock, tmp_path, per_run=3)
    apps.append(app)
    acme, globex = principal(app, "agent:triage"), principal(app, "agent:triage", "globex")
    made = [await brief(app, acme), await brief(app, globex), await brief(app, acme)]
    assert outcomes(made) == ["executed"] * 3
    assert outcomes([await brief(app, globex)]) == ["limits.proposals_per_run"]
    # A run the client names is a run of its own, in every tenant.
    named = [await brief(app, acme, "run-1"), await brief(app, globex, "run-1"),
             await brief(app, acme, "run-1"), await brief(app, globex, "run-1")]
    assert outcomes(named) == ["executed"] * 3 + ["limits.proposals_per_run"]


async def test_the_counters_match_the_proposals_made(
    db: Database, clock: FixedClock, tmp_path: Path, apps: list[App]
) -> None:
    app = await limited_app(db, clock, tmp_path, hourly=30, per_run=12)
    apps.append(app)
    agent = {t: principal(app, "agent:triage", t) for t in CASES}
    alice = principal(app, "user:alice")
    for n in range(40):
        tenant = "acme" if n % 3 else "globex"
        await brief(app, agent[tenant], None if n % 4 == 0 else f"run-{n % 5}")
        if n % 7 == 0:
            await brief(app, alice, "run-alice")
        clock.advance(timedelta(minutes=2))
    runs = {(actor, run): n for actor, run, n in query(
        db, "SELECT actor_id, run_id, COUNT(*) FROM proposals GROUP BY 1, 2")}
    # The instant from the record itself: the adapters store it as they like.
    made = [ProposalRecord.model_validate_json(doc)
            for (doc,) in query(db, "SELECT doc FROM proposals")]
    recent = Counter(p.actor.id for p in made if p.created_at >= clock() - timedelta(minutes=60))

    def counted(uow: UnitOfWork) -> tuple[dict[tuple[str, str | None], int], dict[str, int]]:
        return (
            {key: uow.rates.in_run(*key) for key in runs},
            {actor: uow.rates.last_hour(actor, clock()) for actor in recent},
        )

    assert await app.store.read(counted) == (runs, recent)
    assert (agent["acme"].id, None) in runs
    assert sum(runs.values()) == 46
    rejected = await app.store.read(lambda uow: uow.proposals.find(status="rejected"))
    assert rejected, "some proposals were over a limit, and they count too"
