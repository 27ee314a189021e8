"""Event types of the casework domain, their current versions and upcasters.

Event names are part of the audit trail and of every stored stream, so they
live in one place; handlers, states and projections refer to these constants
rather than retyping strings that would drift apart.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from signoff.server import Upcaster

CASE_OPENED: Final = "case.opened"
CASE_EVIDENCE_LINKED: Final = "case.evidence_linked"
CASE_BRIEF_ADDED: Final = "case.brief_added"
CASE_RISK_UPDATED: Final = "case.risk_updated"
CASE_ESCALATED: Final = "case.escalated"
CASE_CLOSED: Final = "case.closed"

EVIDENCE_COLLECTED: Final = "evidence.collected"

NOTICE_DRAFTED: Final = "notice.drafted"
NOTICE_APPROVED: Final = "notice.approved"
NOTICE_SENT: Final = "notice.sent"
# Emitted by the delivery consumer once the notification sink has the notice;
# registered here because the notice aggregate folds it.
NOTICE_DELIVERED: Final = "notice.delivered"

CASE_EVENTS: Final = frozenset(
    {CASE_OPENED, CASE_EVIDENCE_LINKED, CASE_BRIEF_ADDED, CASE_RISK_UPDATED, CASE_ESCALATED,
     CASE_CLOSED}
)
EVIDENCE_EVENTS: Final = frozenset({EVIDENCE_COLLECTED})
NOTICE_EVENTS: Final = frozenset({NOTICE_DRAFTED, NOTICE_APPROVED, NOTICE_SENT, NOTICE_DELIVERED})

# case.opened v2 added `assigned_team`; every other type is still at v1.
EVENT_VERSIONS: Final[Mapping[str, int]] = {
    **{name: 1 for name in CASE_EVENTS | EVIDENCE_EVENTS | NOTICE_EVENTS},
    CASE_OPENED: 2,
}

UNASSIGNED_TEAM: Final = "unassigned"


def upcast_case_opened_v1(payload: dict[str, Any]) -> dict[str, Any]:
    """case.opened v1 → v2. Cases opened before teams existed belong to no
    team; saying so explicitly keeps every v2 reader free of special cases.
    An `assigned_team` already present is kept, so upcasting twice is harmless."""
    return {**payload, "assigned_team": payload.get("assigned_team", UNASSIGNED_TEAM)}


UPCASTERS: Final[Mapping[tuple[str, int], Upcaster]] = {
    (CASE_OPENED, 1): upcast_case_opened_v1,
}
