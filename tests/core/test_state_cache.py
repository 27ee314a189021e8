"""The cross-transaction state cache: a head start, never a source of truth."""

from __future__ import annotations

from typing import Any

import pytest

from signoff.policies import PrincipalFacts
from signoff.server.app import App, Database, Settings, build_app
from signoff.server.domain import NewEvent
from signoff.server.state.aggregates import Loaders, StateCache, TxStateLoader
from signoff.server.state.committer import Causation
from signoff.store.ports import UnitOfWork
from signoff.store.records import Actor
from tests.databases import both_adapters

pytestmark = pytest.mark.anyio

CASE = "case-acme-001"
WHO = Causation(actor=Actor(id="system:test", kind="system"))


def brief(summary: str, number: int) -> NewEvent:
    return NewEvent("case.brief_added", {"brief_number": number, "summary": summary})


async def cache_a_brief_then_roll_it_back(app: App, loaders: Loaders) -> int:
    """A brief committed and loaded through `loaders` (cached at its
    version), then rolled back; returns the case's version before it."""
    case = app.domain.aggregate("case")
    assert case is not None
    base = await app.store.read(lambda uow: uow.events.version("acme", "case", CASE))

    def doomed(uow: UnitOfWork) -> None:
        app.committer.commit(uow, tenant_id="acme", aggregate_type="case", aggregate_id=CASE,
                             base_version=base, events=[brief("never happened", 90)],
                             causation=WHO)
        assert loaders(uow, "acme").load(case, CASE).version == base + 1  # cached at base+1
        raise RuntimeError("roll it back")

    with pytest.raises(RuntimeError):
        await app.store.write(doomed)
    return base


async def test_a_state_cached_in_a_rolled_back_transaction_is_not_trusted(app: App) -> None:
    loaders = Loaders(app.upcaster, StateCache())
    base = await cache_a_brief_then_roll_it_back(app, loaders)

    def real(uow: UnitOfWork) -> None:
        app.committer.commit(uow, tenant_id="acme", aggregate_type="case", aggregate_id=CASE,
                             base_version=base, events=[brief("what happened", 1)],
                             causation=WHO)

    await app.store.write(real)
    cached, fresh = await app.store.read(_compare(app, loaders))
    assert cached == fresh
    assert cached.version == base + 1


async def test_cached_loads_agree_with_a_full_fold_as_the_stream_grows(
    app: App, agent: PrincipalFacts
) -> None:
    case = app.domain.aggregate("case")
    assert case is not None
    for n in range(12):
        receipt = await app.proposals.submit(
            agent, "brief.create", {"case_id": CASE, "summary": f"brief {n}", "confidence": 0.9}
        )
        assert receipt.status == "executed"

        def compare(uow: UnitOfWork) -> tuple[Any, Any]:
            return (app.loaders(uow, "acme").load(case, CASE),
                    TxStateLoader(uow, "acme", app.upcaster).load(case, CASE))

        cached, fresh = await app.store.read(compare)
        assert cached == fresh
    assert app.loaders.cache.get(("acme", "case", CASE)) is not None


def _compare(app: App, loaders: Loaders) -> Any:
    case = app.domain.aggregate("case")
    assert case is not None

    def both(uow: UnitOfWork) -> tuple[Any, Any]:
        return (loaders(uow, "acme").load(case, CASE),
                TxStateLoader(uow, "acme", app.upcaster).load(case, CASE))

    return both


@both_adapters
async def test_a_state_cached_past_the_stream_s_end_is_not_trusted(app: App) -> None:
    # Rolled back with nothing written at its version since: the stream read
    # from the cached version is empty, which must not pass for "current".
    loaders = Loaders(app.upcaster, StateCache())
    base = await cache_a_brief_then_roll_it_back(app, loaders)
    cached, fresh = await app.store.read(_compare(app, loaders))
    assert cached == fresh
    assert cached.version == base


@both_adapters
async def test_another_process_s_commit_after_the_cached_version_is_folded_in(
    app: App, agent: PrincipalFacts, db: Database
) -> None:
    loaders = Loaders(app.upcaster, StateCache())
    warm, _ = await app.store.read(_compare(app, loaders))
    assert loaders.cache.get(("acme", "case", CASE)) is not None
    other = await build_app(Settings(db=db))
    try:
        receipt = await other.proposals.submit(
            agent, "brief.create", {"case_id": CASE, "summary": "elsewhere", "confidence": 0.9})
        assert receipt.status == "executed"
    finally:
        await other.close()
    cached, fresh = await app.store.read(_compare(app, loaders))
    assert cached == fresh
    assert cached.version == warm.version + 1


EVIDENCE = ("acme", "evidence", "ev-acme-002-a")
DRAFT = {"case_id": "case-acme-002", "body": "draft", "evidence_refs": ["ev-acme-002-a"],
         "confidence": 0.9}


@both_adapters
async def test_evidence_seen_by_a_committed_submission_is_not_read_again(
    app: App, agent: PrincipalFacts
) -> None:
    assert not app.loaders.cache.known_to_exist(EVIDENCE)
    receipt = await app.proposals.submit(agent, "notice.create_draft", DRAFT)
    assert receipt.status == "executed"
    assert app.loaders.cache.known_to_exist(EVIDENCE)
    evidence = app.domain.aggregate("evidence")
    assert evidence is not None

    def unread(*args: object) -> int:
        raise AssertionError("the store was asked")

    def job(uow: UnitOfWork) -> bool:
        loader = app.loaders(uow, "acme")
        loader.uow.events.version = unread  # type: ignore[method-assign, assignment]
        try:
            return loader.exists(evidence, "ev-acme-002-a")
        finally:
            del loader.uow.events.version  # the adapter's own method again

    assert await app.store.read(job)


@both_adapters
async def test_evidence_seen_by_a_submission_that_did_not_commit_is_not_known(
    app: App, agent: PrincipalFacts, monkeypatch: pytest.MonkeyPatch
) -> None:
    def explode(*args: object, **kwargs: object) -> None:
        raise RuntimeError("judging exploded")

    monkeypatch.setattr("signoff.server.services.proposals.judge", explode)
    with pytest.raises(RuntimeError):
        await app.proposals.submit(agent, "notice.create_draft", DRAFT)
    assert not app.loaders.cache.known_to_exist(EVIDENCE)
