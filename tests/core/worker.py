"""A separate process for race and crash tests: opens the app on a database
(a SQLite file or a PostgreSQL URL) and does one job, as a second executor
or a workload to be killed.

    python -m tests.core.worker execute DB ID [ID ...]   -> prints executed ids
    python -m tests.core.worker workload DB N            -> N allowed commands,
                                                            N/2 asks and approvals
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from signoff.server.app import App, Settings, build_app, is_url
from signoff.server.services.executor import Execution
from signoff.store.ports import UnitOfWork


async def execute(app: App, ids: list[str]) -> None:
    for proposal_id in ids:

        def run(uow: UnitOfWork, p: str = proposal_id) -> Execution | None:
            return app.executor.run(uow, p)

        done = await app.store.write(run)
        if done is not None and done.events:
            print(proposal_id, flush=True)


async def workload(app: App, n: int) -> None:
    agent = app.principals.get("agent:triage")
    alice = app.principals.get("user:alice")
    assert agent
    assert alice
    triage, supervisor = agent.facts("acme"), alice.facts("acme")
    for i in range(n):
        await app.proposals.submit(
            triage,
            "brief.create",
            {"case_id": "case-acme-002", "summary": f"note {i}", "confidence": 0.9},
        )
        if i % 2:
            continue
        version = await app.store.read(
            lambda uow: uow.events.version("acme", "case", "case-acme-001")
        )
        receipt = await app.proposals.submit(
            triage,
            "case.update_risk",
            {
                "case_id": "case-acme-001",
                "risk_level": ["high", "medium"][i // 2 % 2],
                "expected_version": version,
                "confidence": 0.5,
            },
        )
        assert receipt.proposal_id, receipt
        await app.approvals.approve(supervisor, receipt.proposal_id, digest=None, channel="cli")


async def main(argv: list[str]) -> None:
    job, db, *rest = argv
    app = await build_app(Settings(db=db if is_url(db) else Path(db)))
    try:
        if job == "execute":
            await execute(app, rest)
        else:
            await workload(app, int(rest[0]))
    finally:
        await app.close()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1:]))
