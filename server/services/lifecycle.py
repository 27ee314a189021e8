"""Moving a proposal between statuses, with its trail.

Every transition is a compare-and-set on the stored status plus an entry in
the proposal's lifecycle stream, and a final status also records the command
result: the three can never disagree because they are written together here.
"""

from __future__ import annotations

from typing import Any

from signoff.server.clock import Clock, IdFactory
from signoff.server.errors import Refused
from signoff.store.ports import UnitOfWork
from signoff.store.records import (
    FINAL_STATUSES,
    CommandResult,
    Outcome,
    ProposalEvent,
    ProposalRecord,
    ProposalStatus,
)

RESULT_OUTCOME: dict[str, Outcome] = {
    "executed": "accepted", "conflict": "conflict", "rejected": "rejected",
    "failed": "rejected", "expired": "rejected", "withdrawn": "rejected",
}


class Lifecycle:
    def __init__(self, clock: Clock, ids: IdFactory) -> None:
        self._clock = clock
        self._ids = ids

    def note(
        self, uow: UnitOfWork, proposal: ProposalRecord, event_type: str, actor_id: str,
        payload: dict[str, Any] | None = None,
    ) -> None:
        uow.proposals.add_event(ProposalEvent(
            proposal_id=proposal.proposal_id, tenant_id=proposal.tenant_id, seq=0,
            event_type=event_type, actor_id=actor_id, payload=payload or {},
            occurred_at=self._clock(),
        ))

    def move(
        self, uow: UnitOfWork, proposal: ProposalRecord, status: ProposalStatus, *,
        actor_id: str, reason: str = "", **changes: Any,
    ) -> ProposalRecord:
        moved = proposal.model_copy(update={
            "status": status, "status_reason": reason, "updated_at": self._clock(), **changes,
        })
        if not uow.proposals.replace(moved, expected_status=proposal.status):
            raise Refused(f"proposal {proposal.proposal_id} changed status concurrently")
        payload: dict[str, Any] = {"from": proposal.status, "reason": reason}
        if moved.event_ids:
            payload["event_ids"] = list(moved.event_ids)
        self.note(uow, moved, f"proposal.{status}", actor_id, payload)
        if status in FINAL_STATUSES:
            self.record_result(uow, moved)
        return moved

    def record_result(self, uow: UnitOfWork, proposal: ProposalRecord) -> None:
        """The command's final result, written once the proposal is final."""
        uow.commands.add_result(CommandResult(
            command_id=proposal.command_id, proposal_id=proposal.proposal_id,
            tenant_id=proposal.tenant_id, outcome=RESULT_OUTCOME[proposal.status],
            status=proposal.status, message=proposal.status_reason,
            event_ids=proposal.event_ids, recorded_at=self._clock(),
        ))
