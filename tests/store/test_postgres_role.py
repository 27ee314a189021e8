"""A role granted what `signoff db grant` gives runs signoff (migrated store
found current, proposals made and executed) but cannot rewrite history, even
where the owner has dropped the append-only triggers."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from psycopg import sql

from signoff.server.app import Settings, build_app
from signoff.store.open import open_store
from tests.conftest import principal
from tests.core.helpers import invoke

from .postgres import SERVER, scratch_schema

pytestmark = pytest.mark.anyio


@pytest.fixture
def owner_url() -> Iterator[str]:
    with scratch_schema() as url:
        yield url


@pytest.fixture
def role() -> Iterator[str]:
    name = f"signoff_app_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(SERVER, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(name)))
    try:
        yield name
    finally:
        with psycopg.connect(SERVER, autocommit=True) as admin:
            admin.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(name)))
            admin.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(name)))


def as_role(url: str, role: str) -> str:
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{role}@{host}"))


async def test_the_granted_role_runs_signoff_but_cannot_rewrite_history(
    owner_url: str, role: str
) -> None:
    store = await open_store(owner_url)  # the owner migrates
    await store.close()
    granted = await invoke(["db", "grant", role, "--db", owner_url, "--json"])
    assert granted.exit_code == 0, granted.output
    statements = json.loads(granted.output)["statements"]
    assert any("GRANT SELECT, INSERT ON" in s and "events" in s for s in statements)

    app = await build_app(Settings(db=as_role(owner_url, role)))
    try:
        assert await app.seed_if_empty() > 0
        agent = principal(app, "agent:triage")
        receipt = await app.proposals.submit(agent, "brief.create", {
            "case_id": "case-acme-001", "summary": "as the app role", "confidence": 0.9})
        assert receipt.status == "executed", receipt
    finally:
        await app.close()

    with psycopg.connect(owner_url, autocommit=True) as owner:
        owner.execute("DROP TRIGGER events_no_update ON events")
        owner.execute("DROP TRIGGER events_no_truncate ON events")
    with psycopg.connect(as_role(owner_url, role), autocommit=True) as app_role:
        for attack in ("UPDATE events SET payload = '{}'", "DELETE FROM events",
                       "TRUNCATE events", "DROP TABLE events",
                       "DELETE FROM proposals", "UPDATE votes SET voter_id = 'x'"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                app_role.execute(attack)
        row = app_role.execute("SELECT count(*) FROM events").fetchone()
    assert row is not None
    assert row[0] > 0


async def test_grant_is_for_postgresql_only() -> None:
    refused = await invoke(["db", "grant", "someone", "--db", "signoff.db"])
    assert refused.exit_code == 2
    assert "PostgreSQL" in refused.output


async def test_granting_a_role_that_does_not_exist_fails_and_grants_nothing(
    owner_url: str,
) -> None:
    refused = await invoke(["db", "grant", "no_such_role_4711", "--db", owner_url])
    assert refused.exit_code == 1
    assert "cannot grant" in refused.output
    with psycopg.connect(owner_url, autocommit=True) as owner:
        granted = owner.execute(
            "SELECT count(*) FROM information_schema.role_table_grants "
            "WHERE grantee = 'no_such_role_4711'").fetchone()
    assert granted == (0,)
