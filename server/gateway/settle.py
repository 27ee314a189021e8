"""Recording what happened to an upstream call: its facts and its proposal's
status, always together, in the caller's transaction.

Shared by the invoker (started, completed, failed, unknown) and by the
people who settle an unknown outcome (resolved, retry approved).
"""

from __future__ import annotations

from typing import Any

from signoff.server.domain import Loaded, NewEvent
from signoff.server.gateway.calls import TOOL_CALL, ToolCall
from signoff.server.services.lifecycle import Lifecycle
from signoff.server.state.aggregates import Loaders
from signoff.server.state.committer import Causation, Committer
from signoff.store.ports import UnitOfWork
from signoff.store.records import (
    Actor,
    EventEnvelope,
    OutboxMessage,
    ProposalRecord,
    ProposalStatus,
)

GATEWAY = Actor(id="system:gateway", kind="system")


def upstream_of(proposal: ProposalRecord) -> str:
    """`repo` for `tool.repo.git_commit`."""
    return proposal.command_type.split(".")[1]


class Settler:
    def __init__(self, *, committer: Committer, loaders: Loaders, lifecycle: Lifecycle) -> None:
        self._committer = committer
        self._loaders = loaders
        self._lifecycle = lifecycle

    def load(self, uow: UnitOfWork, tenant_id: str, call_id: str) -> Loaded[ToolCall]:
        return self._loaders(uow, tenant_id).load(TOOL_CALL, call_id)

    def proposal_of(self, uow: UnitOfWork, message: OutboxMessage) -> ProposalRecord | None:
        """The proposal that made this call: every fact of a call is caused by
        its proposal's command (and must concern this very call)."""
        if message.causation_id is None:
            return None
        found = uow.proposals.by_command(message.causation_id, message.tenant_id)
        if found is None or found.aggregate_type != TOOL_CALL.name or (
                found.aggregate_id != message.aggregate_id):
            return None
        return found

    def record(
        self, uow: UnitOfWork, proposal: ProposalRecord, base_version: int, event_type: str,
        payload: dict[str, Any], *, status: ProposalStatus | None = None,
        actor: Actor = GATEWAY, reason: str = "",
    ) -> tuple[list[EventEnvelope], ProposalRecord]:
        """Commit one fact about the call (carrying its upstream, so a relay
        keeps one upstream's calls in order) and, when `status` is given,
        move the proposal there with the fact among its events."""
        events = self._committer.commit(
            uow, tenant_id=proposal.tenant_id, aggregate_type=TOOL_CALL.name,
            aggregate_id=proposal.aggregate_id, base_version=base_version,
            events=[NewEvent(event_type, {"upstream": upstream_of(proposal), **payload})],
            causation=Causation(actor=actor, correlation_id=proposal.correlation_id,
                                causation_id=proposal.command_id, run_id=proposal.run_id,
                                thread_id=proposal.thread_id),
        )
        if status is None:
            return events, proposal
        moved = self._lifecycle.move(
            uow, proposal, status, actor_id=actor.id,
            reason=reason or str(payload.get("reason", "")),
            event_ids=(*proposal.event_ids, *(e.event_id for e in events)),
        )
        return events, moved
