"""The published output schemas are the result models' own, slimmed: they
accept exactly what pydantic's schema accepts, without the `$ref`s, the
`anyOf`-with-null and the generated titles that make every client's check of
every result dear; and what signoff sends on the wire fits them."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any, Literal

import jsonschema
import pytest
from pydantic import BaseModel

from signoff.examples.casework import build_domain
from signoff.server.mcp.output_schema import slim
from signoff.server.mcp.schemas import output_schema
from signoff.server.services.receipts import Receipt

DOMAIN = build_domain()

EXECUTED: dict[str, Any] = {
    "proposal_id": "prop_1", "status": "executed", "outcome": "accepted",
    "command_type": "brief.create", "aggregate_id": "case-acme-001",
    "decision": {"effect": "allow", "rule_id": "briefs", "reason": "allowed",
                 "policy_version": "sha256:ab", "approvers_required": 0, "approver_roles": [],
                 "expires_at": None},
    "events": [{"event_type": "case.brief_added", "aggregate_id": "case-acme-001",
                "aggregate_version": 5, "position": 31, "payload": {"summary": "s"}}],
    "reason": "allowed", "next": "Done.",
}
PENDING = {**EXECUTED, "status": "pending_approval", "outcome": "requires_approval",
           "events": [], "decision": {**EXECUTED["decision"], "effect": "ask",
                                      "approvers_required": 1, "approver_roles": ["supervisor"],
                                      "expires_at": "2026-01-02T03:04:05Z"}}
REFUSED = {"proposal_id": None, "status": "rejected", "outcome": "validation_error",
           "command_type": "brief.create", "aggregate_id": None, "decision": None, "events": [],
           "reason": "invalid arguments", "next": "Fix them.",
           "problems": [{"field": "summary", "problem": "Field required"}]}
UPSTREAM = {**EXECUTED, "result": {"content": [], "isError": False}}


def mutations(receipt: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Receipts that must be refused: each breaks one constraint."""
    for field in ("status", "outcome", "command_type", "next", "events"):
        broken = copy.deepcopy(receipt)
        broken[field] = None
        yield broken
        del broken[field]
        yield broken
    for field, value in (("status", "done"), ("outcome", "maybe"), ("proposal_id", 7),
                         ("aggregate_id", ["x"]), ("decision", "allow"), ("events", [{}]),
                         ("problems", [{"field": "x"}]), ("result", "text")):
        broken = copy.deepcopy(receipt)
        broken[field] = value
        yield broken
    wrong_decisions: list[tuple[str, Any]] = [
        ("expires_at", 3), ("approvers_required", "1"), ("approver_roles", [None]),
        ("effect", None)]
    if receipt.get("decision"):
        for field, value in wrong_decisions:
            broken = copy.deepcopy(receipt)
            broken["decision"][field] = value
            yield broken


def accepts(schema: dict[str, Any], instance: Any) -> bool:
    return jsonschema.Draft202012Validator(schema).is_valid(instance)


@pytest.mark.parametrize("receipt", [EXECUTED, PENDING, REFUSED, UPSTREAM],
                         ids=["executed", "pending", "refused", "upstream"])
def test_the_slim_receipt_schema_judges_as_the_full_one(receipt: dict[str, Any]) -> None:
    full = Receipt.model_json_schema(mode="serialization")
    published = output_schema(Receipt)
    assert accepts(full, receipt)
    assert accepts(published, receipt)
    for broken in mutations(receipt):
        assert accepts(published, broken) == accepts(full, broken), broken
    assert sum(not accepts(published, broken) for broken in mutations(receipt)) > 10


def test_the_slim_receipt_schema_has_no_costly_shapes_and_keeps_what_a_model_reads() -> None:
    published = output_schema(Receipt)
    text = str(published)
    assert "$ref" not in text
    assert "anyOf" not in text
    assert "'title'" not in text
    assert published["properties"]["proposal_id"]["type"] == ["string", "null"]
    assert published["properties"]["decision"]["type"] == ["object", "null"]
    assert "null" not in str(published["properties"]["status"])
    assert published["properties"]["next"]["description"]
    assert set(published["required"]) == {"proposal_id", "status", "outcome", "command_type",
                                          "next"}


def test_every_query_result_schema_judges_as_the_full_one() -> None:
    for query in DOMAIN.queries:
        full = query.result.model_json_schema(mode="serialization")
        published = output_schema(query.result)
        assert "$ref" not in str(published), query.name
        for field in full["properties"]:
            empty = {name: None for name in full["properties"]}
            wrong = {**empty, field: {"unexpected": True}}
            assert accepts(published, wrong) == accepts(full, wrong), (query.name, field)


class Kind(BaseModel):
    kind: Literal["a", "b"] | None = None
    fixed: Literal["only"] | None = None


class Node(BaseModel):
    name: str
    children: list[Node] = []


def test_optional_literals_fold_into_enums_that_take_null() -> None:
    published = slim(Kind.model_json_schema())
    for value, ok in ((None, True), ("a", True), ("c", False), (1, False)):
        assert accepts(published, {"kind": value}) is ok, value
    for value, ok in ((None, True), ("only", True), ("other", False)):
        assert accepts(published, {"fixed": value}) is ok, value


def test_a_recursive_model_keeps_its_schema() -> None:
    full = Node.model_json_schema()
    assert slim(full) == full
    assert accepts(slim(full), {"name": "a", "children": [{"name": "b"}]})
    assert not accepts(slim(full), {"name": "a", "children": [{"children": []}]})


def test_a_property_named_title_is_kept() -> None:
    class Titled(BaseModel):
        title: str

    published = slim(Titled.model_json_schema())
    assert published["required"] == ["title"]
    assert published["properties"]["title"] == {"type": "string"}
