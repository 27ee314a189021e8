"""The assistant example on a real database (seeded with its demo data): a
SQLite file, or under `both_adapters` each adapter in turn (tests/databases.py),
a clock that moves only when told to, a local endpoint that counts requests,
and helpers to allow-list it and run the relay until nothing is left."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from signoff.policies import PrincipalFacts
from signoff.server.app import App, Database, Settings, build_app
from signoff.server.clock import FixedClock, SequentialIds
from signoff.server.delivery import DeliveryConfig, PassResult, RelayOptions, relay_for
from signoff.server.services.receipts import Receipt
from tests.assistant.endpoint import Endpoint, running_endpoint

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "assistant"
POLICY, PRINCIPALS = EXAMPLE / "policy.toml", EXAMPLE / "principals.toml"
TENANT = "home"


async def open_assistant(db: Database, clock: FixedClock) -> App:
    app = await build_app(Settings(db=db, domain="assistant", policy=POLICY,
                                   principals=PRINCIPALS, clock=clock, ids=SequentialIds()))
    await app.seed_if_empty()
    return app


@pytest.fixture
async def app(db: Database, clock: FixedClock) -> AsyncIterator[App]:
    built = await open_assistant(db, clock)
    try:
        yield built
    finally:
        await built.close()


@pytest.fixture
def endpoint() -> Iterator[Endpoint]:
    with running_endpoint() as running:
        yield running


def who(app: App, principal_id: str) -> PrincipalFacts:
    record = app.principals.get(principal_id)
    assert record is not None, principal_id
    return record.facts(TENANT)


def allow(folder: Path, *origins: str, **options: Any) -> None:
    """Write the allow-list beside the database: each origin with `options`."""
    lines = []
    for url in origins:
        lines += ["[[endpoint]]", f'url = "{url}"']
        lines += [f"{k} = {str(v).lower() if isinstance(v, bool) else v}"
                  for k, v in options.items()]
    (folder / "endpoints.toml").write_text("\n".join(lines) + "\n")


async def propose(app: App, command: str, principal: str = "agent:assistant",
                  **payload: Any) -> Receipt:
    return await app.proposals.submit(who(app, principal), command,
                                      {"confidence": 0.9, **payload})


async def relay_until_idle(app: App, rounds: int = 5) -> PassResult:
    """Drain the relay; between rounds the clock moves past any backoff, so
    a retried message comes due again."""
    relay = relay_for(app, DeliveryConfig(relay=RelayOptions(base_delay=1.0, max_delay=5.0)),
                      owner="relay-test")
    result = await relay.drain()
    for _ in range(rounds):
        assert isinstance(app.clock, FixedClock)
        app.clock.advance(timedelta(seconds=10))
        result = await relay.drain()
    await relay.close()
    return result
