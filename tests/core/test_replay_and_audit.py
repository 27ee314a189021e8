"""Replay rebuilds what the executor built; the database refuses rewrites;
an edited event breaks the chain and `audit verify` says where."""

from __future__ import annotations

import sqlite3
import sys
from pathlib import Path

import anyio
import pytest
from typer.testing import CliRunner

from signoff.policies import PrincipalFacts
from signoff.server.app import App
from signoff.server.cli import app as cli
from signoff.server.ops.audit import verify_chain
from signoff.server.state.aggregates import TxStateLoader, UnknownEventVersion
from signoff.server.state.projector import Projector
from signoff.server.state.rebuild import rebuild_projections
from signoff.store.records import EventEnvelope
from tests.core.helpers import case_version, invoke
from tests.store.tables import live_documents

pytestmark = pytest.mark.anyio

CASE = "case-acme-001"


async def busy_day(app: App, agent: PrincipalFacts, alice: PrincipalFacts) -> None:
    for n in range(3):
        await app.proposals.submit(
            agent, "brief.create", {"case_id": CASE, "summary": f"brief {n}", "confidence": 0.9}
        )
    draft = await app.proposals.submit(
        agent,
        "notice.create_draft",
        {"case_id": CASE, "body": "You are required to ...", "confidence": 0.9},
    )
    assert draft.status == "executed"
    version = await case_version(app, CASE)
    escalation = await app.proposals.submit(
        agent,
        "case.escalate",
        {
            "case_id": CASE,
            "expected_version": version,
            "confidence": 0.8,
            "evidence_refs": ["ev-acme-001-b"],
        },
    )
    assert escalation.proposal_id
    await app.approvals.approve(alice, escalation.proposal_id, digest=None, channel="cli")


async def live_models(app: App) -> dict[str, object]:
    names = [p.name for p in app.domain.projections]
    return await app.store.read(lambda uow: {n: live_documents(uow, n) for n in names})


async def test_replay_rebuilds_the_same_read_models(
    app: App, agent: PrincipalFacts, alice: PrincipalFacts
) -> None:
    await busy_day(app, agent, alice)
    await Projector(app.store, app.domain, app.upcaster).catch_up()  # the async ones too
    live = await live_models(app)
    assert all(live.values()), "every projection has documents to compare"
    seen: list[tuple[int, int]] = []
    rebuilt = await rebuild_projections(
        app.store, app.domain, app.upcaster, chunk=7, progress=lambda d, t: seen.append((d, t))
    )
    head = await app.store.read(lambda uow: uow.events.head())
    assert set(rebuilt) == set(live)
    assert set(rebuilt.values()) == {head}
    assert seen
    assert seen[-1] == (head, head)
    assert await live_models(app) == live
    # And the rebuilt models keep working for new commands and queries.
    receipt = await app.proposals.submit(
        agent, "brief.create", {"case_id": CASE, "summary": "after rebuild", "confidence": 0.9}
    )
    summary = await app.queries.run(agent, "get_case_summary", {"case_id": CASE})
    assert summary.model_dump()["version"] == receipt.events[0].aggregate_version


async def test_rebuilding_an_unknown_projection_is_refused(app: App) -> None:
    with pytest.raises(KeyError, match="nope"):
        await rebuild_projections(app.store, app.domain, app.upcaster, ["nope"])


async def test_replaying_the_stream_gives_the_executors_state(
    app: App, agent: PrincipalFacts, alice: PrincipalFacts
) -> None:
    await busy_day(app, agent, alice)
    case = app.domain.aggregate("case")
    assert case is not None

    def load_twice(uow: object) -> tuple[object, object]:
        loader = TxStateLoader(uow, "acme", app.upcaster)  # type: ignore[arg-type]
        return loader.load(case, CASE), loader.load(case, CASE)

    first, second = await app.store.read(load_twice)
    assert first == second
    summary = (await app.queries.run(agent, "get_case_summary", {"case_id": CASE})).model_dump()
    assert case.status(first.state) == summary["status"] == "escalated"  # type: ignore[attr-defined]


def _append_raw(db: Path, event_type: str, version: int, payload: str) -> None:
    """Write an event as an older or newer signoff would have (bypassing the app)."""
    with sqlite3.connect(db) as conn:
        pos, prev = conn.execute(
            "SELECT position, hash FROM events ORDER BY position DESC LIMIT 1"
        ).fetchone()
        conn.execute(
            "INSERT INTO events (position, event_id, tenant_id, aggregate_type, aggregate_id, "
            "aggregate_version, event_type, event_version, actor_type, actor_id, payload_schema, "
            "payload, occurred_at, prev_hash, hash) VALUES (?, ?, 'acme', 'case', 'case-old', 1, "
            "?, ?, 'system', 'system:legacy', 'x', ?, '2025-01-01T00:00:00+00:00', ?, 'h')",
            (pos + 1, f"legacy-{pos}", event_type, version, payload, prev),
        )


async def test_an_old_event_version_is_upcast(app: App, db: Path) -> None:
    _append_raw(
        db, "case.opened", 1, '{"title": "Old", "allegation_summary": "a", "risk_level": "low"}'
    )
    case = app.domain.aggregate("case")
    assert case is not None
    loaded = await app.store.read(
        lambda uow: TxStateLoader(uow, "acme", app.upcaster).load(case, "case-old")
    )
    assert loaded.exists
    assert case.facts(loaded.state)["assigned_team"] == "unassigned"


@pytest.mark.parametrize(("event_type", "version"), [("case.opened", 9), ("case.teleported", 1)])
async def test_an_unknown_event_version_is_rejected(
    app: App, db: Path, event_type: str, version: int
) -> None:
    _append_raw(db, event_type, version, "{}")
    case = app.domain.aggregate("case")
    assert case is not None
    with pytest.raises(UnknownEventVersion):
        await app.store.read(
            lambda uow: TxStateLoader(uow, "acme", app.upcaster).load(case, "case-old")
        )


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE events SET payload = '{}' WHERE position = 1",
        "DELETE FROM events WHERE position = 1",
    ],
)
async def test_the_database_refuses_to_rewrite_events(app: App, db: Path, statement: str) -> None:
    with sqlite3.connect(db) as conn, pytest.raises(sqlite3.IntegrityError, match="append-only"):
        conn.execute(statement)


async def test_an_edited_event_fails_audit_verify(app: App, db: Path) -> None:
    report = await app.store.read(verify_chain)
    assert report.ok
    assert report.checked == report.head > 0
    ok = await invoke(["audit", "verify", "--db", str(db)])
    assert ok.exit_code == 0, ok.output
    assert f"{report.head} event(s)" in ok.output
    with sqlite3.connect(db) as conn:  # a tamperer with file access drops the guard
        conn.execute("DROP TRIGGER events_no_update")
        conn.execute('UPDATE events SET payload = \'{"risk_level": "low"}\' WHERE position = 5')
    await app.close()
    broken = await anyio.run_process(
        [sys.executable, "-m", "signoff.server.cli", "audit", "verify", "--db", str(db), "--json"],
        check=False,
    )
    assert broken.returncode == 1, broken.stderr.decode()
    assert '"broken_at": 5' in broken.stdout.decode()
    assert "edited" in broken.stdout.decode()


async def test_events_list_prints_committed_events_in_order(app: App, db: Path) -> None:
    result = await invoke(["events", "list", "--db", str(db), "--json", "--aggregate", CASE])
    assert result.exit_code == 0, result.output
    lines = [EventEnvelope.model_validate_json(line) for line in result.output.splitlines()]
    assert lines
    assert all(e.aggregate_id == CASE for e in lines)
    assert [e.aggregate_version for e in lines] == list(range(1, len(lines) + 1))
    after = await invoke(
        ["events", "list", "--db", str(db), "--json", "--after", str(lines[-1].position)]
    )
    assert all(
        EventEnvelope.model_validate_json(x).position > lines[-1].position
        for x in after.output.splitlines()
    )


def test_cli_commands_need_an_existing_database(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["events", "list", "--db", str(tmp_path / "none.db")])
    assert result.exit_code == 2
    assert not (tmp_path / "none.db").exists()
