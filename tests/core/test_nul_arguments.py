"""Text no store can hold, in a command's arguments: a NUL character is
refused where it is (text that merely spells its JSON escape is not one),
a lone surrogate as text that is not valid Unicode."""

from __future__ import annotations

import pytest

from signoff.policies import PrincipalFacts
from signoff.server.app import App, Database
from tests.core.helpers import snapshot
from tests.databases import both_adapters

pytestmark = [pytest.mark.anyio, both_adapters]

BRIEF = {"case_id": "case-acme-001", "summary": "s", "confidence": 0.9}


@pytest.mark.parametrize(("arguments", "field"), [
    ({**BRIEF, "evidence_refs": ["ev-acme-001-a", "ev\x00"]}, "evidence_refs.1"),
    ({**BRIEF, "rationale": "a\x00b"}, "rationale"),
    ({**BRIEF, "no\x00such": 1}, "no\x00such"),
])
async def test_a_nul_anywhere_is_refused_where_it_is(
    app: App, agent: PrincipalFacts, db: Database, arguments: dict[str, object], field: str
) -> None:
    before = snapshot(db)
    receipt = await app.proposals.submit(agent, "brief.create", arguments)
    assert receipt.outcome == "validation_error"
    assert receipt.proposal_id is None
    assert [(p.field, p.problem) for p in receipt.problems] == [
        (field, "contains a NUL character")]
    assert snapshot(db) == before


async def test_text_spelling_the_escape_of_a_nul_is_text(
    app: App, agent: PrincipalFacts
) -> None:
    receipt = await app.proposals.submit(
        agent, "brief.create", {**BRIEF, "rationale": "the log shows \\u0000 here"})
    assert receipt.outcome != "validation_error", receipt.problems
    assert receipt.proposal_id is not None


async def test_a_lone_surrogate_is_named_as_bad_text(
    app: App, agent: PrincipalFacts, db: Database
) -> None:
    """JSON can hold it (as an escape), UTF-8 cannot: the problem says which."""
    before = snapshot(db)
    receipt = await app.proposals.submit(
        agent, "brief.create", {**BRIEF, "summary": "bad \ud800 text"})
    assert receipt.outcome == "validation_error"
    assert [(p.field, p.problem) for p in receipt.problems] == [
        ("(arguments)", "not valid Unicode text")]
    assert snapshot(db) == before
