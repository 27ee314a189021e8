"""What each MCP tool looks like to a model: argument models, descriptions,
annotations. Generated from the domain, never written per tool.

A query tool takes its query's argument model and answers its result model.
A command tool takes the command's payload fields plus the proposal fields
every proposal carries (rationale, evidence_refs, confidence, optional
idempotency_key, and expected_version when the command acts on a versioned
aggregate), and answers a `Receipt`. The argument model of a command tool is
built with `pydantic.create_model` from the payload model and
`ProposalMeta`, so the published schema carries the same bounds the
proposal service enforces.
"""

from __future__ import annotations

import copy
from typing import Annotated, Any

from mcp_types import ToolAnnotations
from pydantic import BaseModel, ConfigDict, Field, create_model
from pydantic.fields import FieldInfo

from signoff.server.domain import CommandType, DomainError, QueryType
from signoff.server.mcp.output_schema import slim
from signoff.server.services.proposals import META_FIELDS, ProposalMeta

GET_PROPOSAL = "get_proposal"

QUERY_ANNOTATIONS = ToolAnnotations(read_only_hint=True, idempotent_hint=True,
                                    open_world_hint=False)
COMMAND_ANNOTATIONS = ToolAnnotations(read_only_hint=False, destructive_hint=False,
                                      idempotent_hint=True, open_world_hint=False)

META_DESCRIPTIONS = {
    "rationale": "Why you propose this, in a few sentences a human reviewer can check "
    "against the evidence. At most 4000 characters.",
    "evidence_refs": "Ids of the evidence that supports this proposal, exactly as the query "
    "tools returned them (they list citable ids in source_refs). Every id must exist in your "
    "tenant.",
    "confidence": "How sure you are that this proposal is right, from 0 (guess) to 1 "
    "(certain). Be honest: low confidence may route the proposal to a human or refuse it.",
    "idempotency_key": "Optional. A key of your choosing (letters, digits, . _ : -) that "
    "makes retries safe: calling again with the same key and the same arguments returns "
    "the first receipt (outcome duplicate_accepted) instead of proposing twice.",
    "expected_version": "The `version` of what this proposal acts on, as you last read it "
    "from a query tool (or from the receipt that created or changed it). If it changed "
    "since, the proposal is refused as a conflict: read it again.",
}

QUERY_SUFFIX = (
    "\n\nRead-only: calling it changes nothing. The answer says which event position it "
    "reflects (as_of_position, lag) and lists in source_refs the ids you may cite."
)
COMMAND_SUFFIX = (
    "\n\nTakes, besides its own arguments, your rationale, the evidence_refs you rely on and "
    "your confidence. The answer is a receipt: proposal_id, status (executed, "
    "pending_approval, rejected, conflict, ...), outcome, the policy decision and `next`, "
    "which says what to do now. A pending proposal waits for a person: do not submit it "
    "again; follow it with get_proposal."
)
GET_PROPOSAL_DESCRIPTION = (
    "The current receipt of a proposal you or your tenant made: its status (pending_approval, "
    "approved, executed, rejected, expired, conflict, failed), the policy decision, the "
    "committed events once executed, and what happens next. Use it to follow up on a "
    "proposal that was waiting for approval."
)


class GetProposalArgs(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    proposal_id: Annotated[str, Field(
        min_length=1, max_length=128,
        description="The proposal_id from a command tool's receipt.")]


def query_description(query: QueryType[Any, Any]) -> str:
    return query.description + QUERY_SUFFIX


def command_description(command: CommandType[Any, Any]) -> str:
    return command.description + COMMAND_SUFFIX


def _described(field: FieldInfo, text: str) -> FieldInfo:
    described = copy.copy(field)
    described.description = text
    return described


def command_arguments(command: CommandType[Any, Any]) -> type[BaseModel]:
    """The argument model of a command tool: payload fields, then proposal fields."""
    fields: dict[str, Any] = {}
    for name, info in command.payload.model_fields.items():
        if name in META_FIELDS:
            raise DomainError(f"{command.name}: payload field {name!r} clashes with a "
                              "proposal field")
        fields[name] = (info.annotation, info)
    for name in ("rationale", "evidence_refs", "confidence", "idempotency_key"):
        info = _described(ProposalMeta.model_fields[name], META_DESCRIPTIONS[name])
        fields[name] = (info.annotation, info)
    if command.requires_version:
        fields["expected_version"] = (int, Field(ge=0, description=META_DESCRIPTIONS[
            "expected_version"]))
    model: type[BaseModel] = create_model(
        f"{command.tool}_arguments", __config__=ConfigDict(extra="forbid"), **fields)
    return model


def input_schema(model: type[BaseModel]) -> dict[str, Any]:
    return model.model_json_schema()


def output_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The result model's schema, slimmed to what is cheap to check (`output_schema.slim`)."""
    return slim(model.model_json_schema(mode="serialization"))
