"""Moving a proposal between statuses, with its trail.

Every transition is a compare-and-set on the stored status plus an entry in
the proposal's lifecycle stream: the two can never disagree because they are
written together here. A final proposal is its command's result
(`result_of`); the database refuses to change it afterwards.

A proposal executed in the transaction that recorded it is moved `unsaved`:
the row is written only once, in its final state, by the caller (one insert
instead of an insert and an update), and its first lifecycle entries (the
submission's `proposed`, made but not written) go in with the move's own, as
one statement numbered from 1 (nothing before them to count past).
"""

from __future__ import annotations

from collections.abc import Sequence
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

    def entry(
        self, proposal: ProposalRecord, event_type: str, actor_id: str,
        payload: dict[str, Any] | None = None,
    ) -> ProposalEvent:
        """A lifecycle entry as of now, not written (the store numbers it)."""
        return ProposalEvent(
            proposal_id=proposal.proposal_id, tenant_id=proposal.tenant_id, seq=0,
            event_type=event_type, actor_id=actor_id, payload=payload or {},
            occurred_at=self._clock(),
        )

    def note(
        self, uow: UnitOfWork, proposal: ProposalRecord, event_type: str, actor_id: str,
        payload: dict[str, Any] | None = None,
    ) -> None:
        uow.proposals.add_event(self.entry(proposal, event_type, actor_id, payload))

    def move(
        self, uow: UnitOfWork, proposal: ProposalRecord, status: ProposalStatus, *,
        actor_id: str, reason: str = "", unsaved: Sequence[ProposalEvent] | None = None,
        **changes: Any,
    ) -> ProposalRecord:
        """`unsaved`: the proposal was recorded in this transaction and neither
        its row nor these entries of its lifecycle are written yet; they are
        written with this move's entry, and the caller writes the row."""
        moved = proposal.model_copy(update={
            "status": status, "status_reason": reason, "updated_at": self._clock(), **changes,
        })
        if unsaved is None and not uow.proposals.replace(moved, expected_status=proposal.status):
            raise Refused(f"proposal {proposal.proposal_id} changed status concurrently")
        payload: dict[str, Any] = {"from": proposal.status, "reason": reason}
        if moved.event_ids:
            payload["event_ids"] = list(moved.event_ids)
        entry = self.entry(moved, f"proposal.{status}", actor_id, payload)
        if unsaved is None:
            uow.proposals.add_event(entry)
        else:
            uow.proposals.add_first_events([*unsaved, entry])
        return moved


def result_of(proposal: ProposalRecord) -> CommandResult | None:
    """The command's result, once its proposal is final."""
    if proposal.status not in FINAL_STATUSES:
        return None
    return CommandResult(
        command_id=proposal.command_id, proposal_id=proposal.proposal_id,
        tenant_id=proposal.tenant_id, outcome=RESULT_OUTCOME[proposal.status],
        status=proposal.status, message=proposal.status_reason,
        event_ids=proposal.event_ids, recorded_at=proposal.updated_at,
    )
