"""Invariants of the demo data that the demo, the policy and the e2e tests rely on."""

from __future__ import annotations

from collections import Counter

from signoff.examples.casework import events as ev
from signoff.examples.casework.demo_data import demo_data
from signoff.examples.casework.state import CASE, EVIDENCE, CaseState
from tests.casework.fakes import World


def cases(world: World, tenant: str) -> dict[str, CaseState]:
    return {
        aggregate_id: world.load(tenant, CASE, aggregate_id).state
        for (t, kind, aggregate_id) in world.streams
        if t == tenant and kind == CASE.name
    }


def test_demo_data_is_deterministic() -> None:
    assert demo_data() == demo_data()


def test_acme_has_three_open_cases_and_only_case_003_lacks_evidence() -> None:
    acme = cases(World.seeded(), "acme")
    assert sorted(acme) == ["case-acme-001", "case-acme-002", "case-acme-003"]
    assert all(c.status == "open" for c in acme.values())
    assert [cid for cid, c in acme.items() if c.evidence_count == 0] == ["case-acme-003"]
    assert all(2 <= c.evidence_count <= 3 for cid, c in acme.items() if cid != "case-acme-003")


def test_globex_has_cases_of_its_own_with_evidence() -> None:
    globex = cases(World.seeded(), "globex")
    assert sorted(globex) == ["case-globex-001", "case-globex-002"]
    assert all(c.status == "open" and c.evidence_count >= 2 for c in globex.values())


def test_every_evidence_belongs_to_a_case_of_its_own_tenant_and_is_linked_there() -> None:
    world = World.seeded()
    evidence = [(t, eid) for (t, kind, eid) in world.streams if kind == EVIDENCE.name]
    assert len(evidence) == 9
    for tenant, evidence_id in evidence:
        item = world.load(tenant, EVIDENCE, evidence_id).state
        assert item.case_id is not None
        case = world.load(tenant, CASE, item.case_id)
        assert case.exists, (tenant, evidence_id)
        assert evidence_id in case.state.evidence_ids
        assert evidence_id.startswith(f"ev-{tenant}-")


def test_every_linked_evidence_exists_in_the_same_tenant() -> None:
    world = World.seeded()
    for tenant in ("acme", "globex"):
        for case_id, case in cases(world, tenant).items():
            for evidence_id in case.evidence_ids:
                assert world.load(tenant, EVIDENCE, evidence_id).state.case_id == case_id


def test_ids_are_unique_and_events_use_current_versions() -> None:
    seeds = demo_data()
    openings = [s.aggregate_id for s in seeds if s.event.type == ev.CASE_OPENED]
    collected = [s.aggregate_id for s in seeds if s.event.type == ev.EVIDENCE_COLLECTED]
    assert len(set(openings)) == len(openings) == 5
    assert len(set(collected)) == len(collected)
    assert all(s.event.version == ev.EVENT_VERSIONS[s.event.type] for s in seeds)
    opened = next(s for s in seeds if s.event.type == ev.CASE_OPENED)
    assert opened.event.version == 2
    assert set(opened.event.payload) == {"title", "allegation_summary", "assigned_team",
                                         "risk_level"}


def test_every_case_is_opened_before_anything_else_happens_to_it() -> None:
    seen: set[str] = set()
    for s in demo_data():
        if s.aggregate.name == CASE.name:
            assert (s.aggregate_id in seen) == (s.event.type != ev.CASE_OPENED)
            seen.add(s.aggregate_id)


def test_demo_uses_only_known_event_types_and_all_aggregates_are_registered() -> None:
    types = Counter(s.event.type for s in demo_data())
    assert set(types) == {ev.CASE_OPENED, ev.EVIDENCE_COLLECTED, ev.CASE_EVIDENCE_LINKED}
    assert types[ev.EVIDENCE_COLLECTED] == types[ev.CASE_EVIDENCE_LINKED]
