"""Projections: document contents, indexes, and idempotency under replay."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from signoff.examples.casework import events as ev
from signoff.examples.casework.projections import (
    ASYNC_PROJECTIONS,
    CASE_SUMMARY,
    EVIDENCE_INDEX,
    NOTICES,
    PROJECTIONS,
    apply_case_summary,
    apply_evidence_index,
    apply_notices,
)
from signoff.examples.casework.state import CASE
from signoff.store.records import EventEnvelope
from tests.casework.fakes import MemoryReadModels, World, envelope

OPENED = {"title": "T", "allegation_summary": "A", "assigned_team": "team-a",
          "risk_level": "low"}


def project_all(models: MemoryReadModels, events: list[EventEnvelope]) -> None:
    for e in events:
        for p in (*PROJECTIONS, *ASYNC_PROJECTIONS):
            if e.event_type in p.handles:
                p.apply(models.writer(e.tenant_id, p.name), e)


def snapshot(models: MemoryReadModels) -> dict[tuple[str, str, str], tuple[str, str | None]]:
    return {k: (d.body, d.index) for k, d in models.docs.items()}


def test_every_projection_is_inline_and_handles_its_aggregates_events() -> None:
    by_name = {p.name: p for p in PROJECTIONS}
    assert set(by_name) == {CASE_SUMMARY, EVIDENCE_INDEX, NOTICES}
    assert all(p.mode == "inline" for p in PROJECTIONS)
    assert by_name[CASE_SUMMARY].handles == ev.CASE_EVENTS
    assert by_name[EVIDENCE_INDEX].handles == ev.EVIDENCE_EVENTS
    assert by_name[NOTICES].handles == ev.NOTICE_EVENTS


def test_case_summary_document() -> None:
    models = MemoryReadModels()
    writer = models.writer("acme", CASE_SUMMARY)
    opened = envelope(ev.CASE_OPENED, OPENED, event_version=2)
    linked = envelope(ev.CASE_EVIDENCE_LINKED, {"evidence_id": "ev-1"}, version=2)
    apply_case_summary(writer, opened)
    apply_case_summary(writer, linked)
    assert writer.get("case-acme-001") == {
        "case_id": "case-acme-001", "title": "T", "allegation_summary": "A", "status": "open",
        "risk_level": "low", "assigned_team": "team-a", "evidence_ids": ["ev-1"],
        "evidence_count": 1, "briefs": 0, "last_updated_at": linked.occurred_at.isoformat(),
        "version": 2,
    }
    assert models.docs[("acme", CASE_SUMMARY, "case-acme-001")].index == "open"


def test_case_summary_is_reindexed_by_status() -> None:
    models = MemoryReadModels()
    writer = models.writer("acme", CASE_SUMMARY)
    apply_case_summary(writer, envelope(ev.CASE_OPENED, OPENED))
    apply_case_summary(writer, envelope(ev.CASE_CLOSED, {"from_status": "open"}, version=2))
    assert models.docs[("acme", CASE_SUMMARY, "case-acme-001")].index == "closed"


def test_replaying_a_case_event_changes_nothing() -> None:
    models = MemoryReadModels()
    writer = models.writer("acme", CASE_SUMMARY)
    events = [
        envelope(ev.CASE_OPENED, OPENED),
        envelope(ev.CASE_EVIDENCE_LINKED, {"evidence_id": "ev-1"}, version=2),
        envelope(ev.CASE_BRIEF_ADDED, {"brief_number": 1, "summary": "s"}, version=3),
    ]
    for e in events:
        apply_case_summary(writer, e)
    before = snapshot(models)
    puts = writer.puts
    for e in events:
        apply_case_summary(writer, e)
    assert snapshot(models) == before
    assert writer.puts == puts  # a replay does not even rewrite the document


def test_case_event_before_the_case_was_opened_is_ignored() -> None:
    models = MemoryReadModels()
    apply_case_summary(models.writer("acme", CASE_SUMMARY),
                       envelope(ev.CASE_EVIDENCE_LINKED, {"evidence_id": "e"}, version=2))
    assert models.docs == {}


def test_evidence_document_is_indexed_by_case_and_idempotent() -> None:
    models = MemoryReadModels()
    writer = models.writer("acme", EVIDENCE_INDEX)
    collected = envelope(
        ev.EVIDENCE_COLLECTED,
        {"case_id": "case-acme-001", "title": "T", "summary": "S", "kind": "document",
         "collected_at": "2024-01-01"},
        aggregate_type="evidence", aggregate_id="ev-1",
    )
    apply_evidence_index(writer, collected)
    before = snapshot(models)
    apply_evidence_index(writer, collected)
    assert snapshot(models) == before
    assert writer.get("ev-1") == {
        "evidence_id": "ev-1", "case_id": "case-acme-001", "title": "T", "summary": "S",
        "kind": "document", "collected_at": "2024-01-01", "version": 1,
    }
    assert models.docs[("acme", EVIDENCE_INDEX, "ev-1")].index == "case-acme-001"


def test_notice_document_follows_the_lifecycle_and_ignores_replays() -> None:
    models = MemoryReadModels()
    writer = models.writer("acme", NOTICES)

    def notice(event_type: str, version: int) -> EventEnvelope:
        payload = {"case_id": "case-acme-001", "body": "B"}
        return envelope(event_type, payload, aggregate_type="notice", aggregate_id="n-1",
                        version=version)

    drafted, approved = notice(ev.NOTICE_DRAFTED, 1), notice(ev.NOTICE_APPROVED, 2)
    for e in (drafted, approved, drafted, approved):
        apply_notices(writer, e)
    assert writer.get("n-1") == {
        "draft_id": "n-1", "status": "approved", "case_id": "case-acme-001", "body": "B",
        "approval_event_id": approved.event_id, "version": 2,
    }
    apply_notices(writer, notice(ev.NOTICE_SENT, 3))
    apply_notices(writer, notice(ev.NOTICE_DELIVERED, 4))
    doc = writer.get("n-1")
    assert doc is not None
    assert (doc["status"], doc["version"]) == ("delivered", 4)
    assert models.docs[("acme", NOTICES, "n-1")].index == "case-acme-001"


def test_read_models_are_tenant_scoped() -> None:
    world = World.seeded()
    assert world.models.writer("acme", CASE_SUMMARY).get("case-globex-001") is None
    assert world.models.writer("globex", CASE_SUMMARY).get("case-globex-001") is not None


def test_case_summary_agrees_with_the_folded_aggregate() -> None:
    world = World.seeded()
    world.execute("brief.create", {"case_id": "case-acme-001", "summary": "x"})
    world.execute("case.update_risk", {"case_id": "case-acme-001", "risk_level": "high"})
    world.execute("case.escalate", {"case_id": "case-acme-001"})
    loaded = world.load("acme", CASE, "case-acme-001")
    doc = world.models.writer("acme", CASE_SUMMARY).get("case-acme-001")
    assert doc is not None
    assert (doc["status"], doc["risk_level"], doc["evidence_count"], doc["briefs"]) == (
        loaded.state.status, loaded.state.risk_level, loaded.state.evidence_count,
        loaded.state.briefs,
    )
    assert doc["version"] == loaded.version


@settings(max_examples=50, deadline=None)
@given(st.data())
def test_any_redelivery_of_already_seen_events_gives_the_same_read_models(
    data: st.DataObject,
) -> None:
    """At-least-once delivery: replaying any earlier event after the fact, in
    any order, leaves every read model as a single in-order pass built it."""
    world = World.seeded()
    draft_id, _ = world.execute("notice.create_draft", {"case_id": "case-acme-002", "body": "B"})
    world.execute("notice.approve", {"draft_id": draft_id})
    world.execute("case.escalate", {"case_id": "case-acme-001"})
    log = world.models.events
    replays = data.draw(st.lists(st.sampled_from(log), max_size=30))
    models = MemoryReadModels()
    project_all(models, log)
    expected = snapshot(models)
    project_all(models, replays)
    assert snapshot(models) == expected
    assert expected == snapshot(world.models)
