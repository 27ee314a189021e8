"""list_cases, get_case_summary and search_evidence against in-memory read models."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from signoff.examples.casework import events as ev
from signoff.examples.casework.queries import (
    CaseIdArgs,
    ListCasesArgs,
    SearchEvidenceArgs,
    query_words,
    run_case_summary,
    run_list_cases,
    run_search_evidence,
)
from signoff.examples.casework.state import EVIDENCE
from signoff.server.domain import NewEvent, QueryNotFound
from tests.casework.fakes import World


@pytest.fixture
def world() -> World:
    return World.seeded()


# --- list_cases -----------------------------------------------------------------


def test_list_cases_shows_only_the_callers_tenant(world: World) -> None:
    acme = run_list_cases(world.models.reader("acme"), ListCasesArgs())
    assert [c.case_id for c in acme.cases] == ["case-acme-001", "case-acme-002", "case-acme-003"]
    assert acme.source_refs == ["case-acme-001", "case-acme-002", "case-acme-003"]
    first = acme.cases[0]
    # version 4: opened, then three evidence links
    assert (first.status, first.risk_level, first.version) == ("open", "medium", 4)
    globex = run_list_cases(world.models.reader("globex"), ListCasesArgs())
    assert [c.case_id for c in globex.cases] == ["case-globex-001", "case-globex-002"]


def test_list_cases_filters_by_status(world: World) -> None:
    world.execute("case.escalate", {"case_id": "case-acme-002"})
    reader = world.models.reader("acme")
    escalated = run_list_cases(reader, ListCasesArgs(status="escalated"))
    assert [(c.case_id, c.status) for c in escalated.cases] == [("case-acme-002", "escalated")]
    still_open = run_list_cases(reader, ListCasesArgs(status="open"))
    assert [c.case_id for c in still_open.cases] == ["case-acme-001", "case-acme-003"]
    assert run_list_cases(reader, ListCasesArgs(status="closed")).cases == []


def test_list_cases_respects_limit(world: World) -> None:
    result = run_list_cases(world.models.reader("acme"), ListCasesArgs(limit=2))
    assert [c.case_id for c in result.cases] == ["case-acme-001", "case-acme-002"]


def test_an_unknown_tenant_sees_nothing(world: World) -> None:
    assert run_list_cases(world.models.reader("initech"), ListCasesArgs()).cases == []


@pytest.mark.parametrize(
    "args",
    [{"limit": 0}, {"limit": 101}, {"status": "pending"}, {"tenant_id": "globex"}],
)
def test_list_cases_arguments_are_bounded(args: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        ListCasesArgs.model_validate(args)


def test_list_limit_defaults_to_20_and_accepts_100() -> None:
    assert ListCasesArgs().limit == 20
    assert ListCasesArgs(limit=100).limit == 100


# --- get_case_summary ---------------------------------------------------------------


def test_case_summary(world: World) -> None:
    result = run_case_summary(world.models.reader("acme"), CaseIdArgs(case_id="case-acme-002"))
    opened_at = world.streams[("acme", "case", "case-acme-002")][-1].occurred_at
    assert result.model_dump() == {
        "case_id": "case-acme-002", "status": "open", "risk_level": "high",
        "assigned_team": "fintech-perimeter", "evidence_count": 2,
        "last_updated_at": opened_at.isoformat(), "version": 3,
        "as_of_position": 0, "lag": 0, "source_refs": ["case-acme-002"],
    }


def test_case_summary_of_a_missing_case(world: World) -> None:
    with pytest.raises(QueryNotFound, match=r"^case case-acme-404 not found$"):
        run_case_summary(world.models.reader("acme"), CaseIdArgs(case_id="case-acme-404"))


def test_case_summary_of_another_tenants_case_is_not_found(world: World) -> None:
    with pytest.raises(QueryNotFound, match=r"^case case-globex-001 not found$"):
        run_case_summary(world.models.reader("acme"), CaseIdArgs(case_id="case-globex-001"))


@pytest.mark.parametrize("case_id", ["", "c" * 65])
def test_case_id_argument_is_bounded(case_id: str) -> None:
    with pytest.raises(ValidationError):
        CaseIdArgs(case_id=case_id)


# --- search_evidence ------------------------------------------------------------------


def search(world: World, case_id: str, query: str | None = None, limit: int = 20,
           tenant: str = "acme") -> list[str]:
    args = SearchEvidenceArgs(case_id=case_id, query=query, limit=limit)
    result = run_search_evidence(world.models.reader(tenant), args)
    assert result.source_refs == [i.evidence_id for i in result.items]
    return result.source_refs


def test_search_without_query_lists_the_cases_evidence(world: World) -> None:
    assert search(world, "case-acme-001") == ["ev-acme-001-a", "ev-acme-001-b", "ev-acme-001-c"]


def test_search_matches_words_case_insensitively_in_title_or_summary(world: World) -> None:
    assert search(world, "case-acme-001", "RECORDED") == ["ev-acme-001-b"]  # title
    assert search(world, "case-acme-001", "retired") == ["ev-acme-001-b"]  # summary
    assert search(world, "case-acme-002", "licence") == ["ev-acme-002-b"]


def test_search_ranks_items_matching_more_words_first(world: World) -> None:
    # -c has "complaints" and "fees"; -a only "fee" (a plural matches its singular).
    refs = search(world, "case-acme-001", "complaints, fees!")
    assert refs[0] == "ev-acme-001-c"
    assert set(refs) == {"ev-acme-001-a", "ev-acme-001-b", "ev-acme-001-c"}


def test_search_with_no_match_is_empty(world: World) -> None:
    assert search(world, "case-acme-001", "zebra") == []


def test_search_respects_limit(world: World) -> None:
    assert search(world, "case-acme-001", limit=2) == ["ev-acme-001-a", "ev-acme-001-b"]


def test_search_of_a_case_without_evidence_is_empty(world: World) -> None:
    assert search(world, "case-acme-003") == []


def test_search_never_returns_another_cases_evidence(world: World) -> None:
    world.append("acme", EVIDENCE, "ev-stray", NewEvent(ev.EVIDENCE_COLLECTED, {
        "case_id": "case-acme-003", "title": "Broker fees", "summary": "fees", "kind": "doc",
    }))
    assert "ev-stray" not in search(world, "case-acme-001", "fees")
    assert search(world, "case-acme-003", "fees") == ["ev-stray"]


@pytest.mark.parametrize(("tenant", "case_id"),
                         [("acme", "case-globex-001"), ("acme", "case-none")])
def test_search_of_an_absent_case_is_not_found(world: World, tenant: str, case_id: str) -> None:
    with pytest.raises(QueryNotFound, match=f"^case {case_id} not found$"):
        search(world, case_id, tenant=tenant)


def test_search_arguments_are_bounded() -> None:
    with pytest.raises(ValidationError):
        SearchEvidenceArgs(case_id="c", query="q" * 201)
    with pytest.raises(ValidationError):
        SearchEvidenceArgs(case_id="c", limit=0)
    with pytest.raises(ValidationError):
        SearchEvidenceArgs.model_validate({"case_id": "c", "q": "fees"})


def test_query_words() -> None:
    assert query_words(None) == []
    assert query_words("  Fee, FEES; fee ") == ["fee", "fees"]


def test_a_plural_query_word_matches_its_singular(world: World) -> None:
    assert search(world, "case-acme-002", "registers") == ["ev-acme-002-b"]
