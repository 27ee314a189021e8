"""Payload models of the casework commands: each command's own arguments only.

The framework adds rationale, evidence_refs, confidence, idempotency_key and
(where a command needs it) expected_version to the tool schema, so these models
hold only what the command itself is about. They are the first line of defence
against a model's malformed output: unknown keys are refused, ids are bounded
and non-blank, free text is bounded. Field descriptions are written for the
model that fills them in.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from signoff.examples.casework.state import RiskLevel

ID_MAX = 64
TEXT_MAX = 4000


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must contain text, not only whitespace")
    return value


# An id as the query tools return it: no whitespace, at most 64 characters.
EntityId = Annotated[str, Field(min_length=1, max_length=ID_MAX, pattern=r"^\S+$")]
Text = Annotated[str, Field(min_length=1, max_length=TEXT_MAX), AfterValidator(_not_blank)]


class Payload(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CreateBrief(Payload):
    case_id: EntityId = Field(
        description="The case the brief is about, as returned by list_cases (e.g. 'case-acme-001')."
    )
    summary: Text = Field(
        description=(
            "The analyst brief: your assessment of the case in plain prose, citing the "
            "evidence ids it relies on. At most 4000 characters."
        )
    )


class CreateNoticeDraft(Payload):
    case_id: EntityId = Field(
        description="The case the notice concerns, as returned by list_cases."
    )
    body: Text = Field(
        description=(
            "The full text of the notice to the regulated party, as it would be sent. "
            "At most 4000 characters. A draft is never sent without legal approval."
        )
    )


class RequestNoticeApproval(Payload):
    draft_id: EntityId = Field(
        description="The notice draft to submit to legal: the aggregate_id returned by "
        "create_notice_draft."
    )


class SendApprovedNotice(Payload):
    draft_id: EntityId = Field(
        description="The notice to send: a draft that legal has already approved."
    )


class UpdateRisk(Payload):
    case_id: EntityId = Field(description="The case whose risk level should change.")
    risk_level: RiskLevel = Field(
        description="The new risk level: one of low, medium, high, critical. It must differ "
        "from the case's current level."
    )


class EscalateCase(Payload):
    case_id: EntityId = Field(
        description="The case to escalate. It must be open or under review and have evidence."
    )


class CloseCase(Payload):
    case_id: EntityId = Field(description="The case to close. A closed case cannot be reopened.")


class RecordNoticeDelivery(Payload):
    draft_id: EntityId = Field(
        description="The sent notice that the notification sink has taken delivery of."
    )
