"""The Domain as registered: names fixed by SPEC.md, versions, upcasters, seed."""

from __future__ import annotations

from typing import Any

import pytest

from signoff.examples.casework import build_domain
from signoff.examples.casework import events as ev
from signoff.examples.casework.demo_data import demo_data
from signoff.examples.casework.state import CASE, EVIDENCE, NOTICE
from signoff.server.domain import AggregateType
from tests.casework.fakes import World

# SPEC.md, "MCP surface of the casework example".
COMMANDS = {
    "brief.create": ("create_analyst_brief", {"case_id", "summary"}, False, "case"),
    "notice.create_draft": ("create_notice_draft", {"case_id", "body"}, False, "notice"),
    "notice.approve": ("request_notice_approval", {"draft_id"}, True, "notice"),
    "notice.send": ("send_approved_notice", {"draft_id"}, True, "notice"),
    "case.update_risk": ("propose_risk_update", {"case_id", "risk_level"}, True, "case"),
    "case.escalate": ("propose_case_escalation", {"case_id"}, True, "case"),
    "case.close": ("propose_case_closure", {"case_id"}, True, "case"),
}
QUERIES = {
    "list_cases": {"status", "limit"},
    "get_case_summary": {"case_id"},
    "search_evidence": {"case_id", "query", "limit"},
    "get_case_context": {"case_id"},
}


def test_build_domain_registers_everything() -> None:
    domain = build_domain()
    assert domain.name == "casework"
    assert [a.name for a in domain.aggregates] == ["case", "evidence", "notice"]
    assert domain.evidence.aggregate is EVIDENCE
    assert domain.seed is demo_data
    assert dict(domain.event_versions) == dict(ev.EVENT_VERSIONS)
    assert dict(domain.upcasters) == dict(ev.UPCASTERS)


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_command_types_match_the_spec(name: str) -> None:
    tool, fields, requires_version, aggregate = COMMANDS[name]
    command = build_domain().command(name)
    assert command is not None
    assert (command.tool, command.requires_version, command.aggregate.name) == (
        tool, requires_version, aggregate,
    )
    assert set(command.payload.model_fields) == fields
    assert (command.target is None) == (name == "notice.create_draft")
    schema = command.payload.model_json_schema()
    assert schema["additionalProperties"] is False
    assert all(p.get("description") for p in schema["properties"].values())
    assert "proposal" in command.description


def test_queries_match_the_spec() -> None:
    queries = {q.name: q for q in build_domain().queries}
    assert set(queries) == set(QUERIES)
    for name, fields in QUERIES.items():
        assert set(queries[name].args.model_fields) == fields
        assert queries[name].args.model_json_schema()["additionalProperties"] is False
        assert queries[name].description


def test_every_emitted_event_type_has_a_registered_version() -> None:
    world = World.seeded()
    world.execute("brief.create", {"case_id": "case-acme-001", "summary": "s"})
    world.execute("case.update_risk", {"case_id": "case-acme-001", "risk_level": "high"})
    world.execute("case.escalate", {"case_id": "case-acme-001"})
    world.execute("case.close", {"case_id": "case-acme-001"})
    draft_id, _ = world.execute("notice.create_draft", {"case_id": "case-acme-002", "body": "B"})
    world.execute("notice.approve", {"draft_id": draft_id})
    world.execute("notice.send", {"draft_id": draft_id})
    emitted = {(e.event_type, e.event_version) for e in world.models.events}
    assert emitted | {(ev.NOTICE_DELIVERED, 1)} == set(ev.EVENT_VERSIONS.items())


def test_each_aggregate_ignores_the_other_aggregates_events() -> None:
    assert set(ev.EVENT_VERSIONS) == ev.CASE_EVENTS | ev.EVIDENCE_EVENTS | ev.NOTICE_EVENTS
    world = World.seeded()
    draft_id, _ = world.execute("notice.create_draft", {"case_id": "case-acme-001", "body": "B"})
    foreign = {
        CASE.name: [*world.streams[("acme", "notice", draft_id)],
                    *world.streams[("acme", "evidence", "ev-acme-001-a")]],
        NOTICE.name: world.streams[("acme", "case", "case-acme-001")],
        EVIDENCE.name: world.streams[("acme", "case", "case-acme-001")],
    }
    aggregates: tuple[AggregateType[Any], ...] = (CASE, EVIDENCE, NOTICE)
    for aggregate in aggregates:
        for event in foreign[aggregate.name]:
            assert aggregate.apply(aggregate.initial(), event) == aggregate.initial()
