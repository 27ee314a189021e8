"""Turning decided events into committed facts, inside the caller's transaction.

Appending, the inline projections and one outbox row per event happen
together, so no event exists without its outbox row and no outbox row without
its event. Only the executor and seeding call this.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from signoff.server.clock import Clock, IdFactory
from signoff.server.domain import Domain, NewEvent, Projection
from signoff.server.state.aggregates import Upcaster
from signoff.store.faults import crash_point
from signoff.store.ports import UnitOfWork
from signoff.store.records import Actor, EventEnvelope, OutboxMessage


@dataclass(frozen=True)
class Causation:
    """Where a batch of events comes from, stamped on each of them."""

    actor: Actor
    correlation_id: str | None = None
    causation_id: str | None = None
    run_id: str | None = None
    thread_id: str | None = None


class Committer:
    def __init__(self, domain: Domain, upcaster: Upcaster, clock: Clock, ids: IdFactory) -> None:
        self._upcaster = upcaster
        self._clock = clock
        self._ids = ids
        self._inline: dict[str, list[Projection]] = defaultdict(list)
        for projection in domain.projections:
            if projection.mode == "inline":
                for event_type in projection.handles:
                    self._inline[event_type].append(projection)

    def commit(
        self,
        uow: UnitOfWork,
        *,
        tenant_id: str,
        aggregate_type: str,
        aggregate_id: str,
        base_version: int,
        events: Sequence[NewEvent],
        causation: Causation,
    ) -> list[EventEnvelope]:
        now = self._clock()
        envelopes = []
        for offset, event in enumerate(events, start=1):
            current = self._upcaster.current_version(event.type)
            if current != event.version:
                raise ValueError(f"event {event.type} v{event.version} is not registered")
            envelopes.append(EventEnvelope(
                event_id=self._ids("evt"), event_type=event.type, event_version=event.version,
                tenant_id=tenant_id, aggregate_type=aggregate_type, aggregate_id=aggregate_id,
                aggregate_version=base_version + offset,
                correlation_id=causation.correlation_id, causation_id=causation.causation_id,
                run_id=causation.run_id, thread_id=causation.thread_id,
                actor_type=causation.actor.kind, actor_id=causation.actor.id,
                payload_schema=f"{event.type}/v{event.version}", payload=dict(event.payload),
                occurred_at=now,
            ))
        stamped = uow.events.append(envelopes)
        crash_point("commit.after_append")
        self.project(uow, stamped)
        uow.outbox.add([
            OutboxMessage(
                message_id=e.event_id, tenant_id=e.tenant_id, topic=e.event_type,
                aggregate_id=e.aggregate_id, correlation_id=e.correlation_id,
                causation_id=e.causation_id, payload=e.model_dump(mode="json"), created_at=now,
            )
            for e in stamped
        ])
        return stamped

    def project(
        self, uow: UnitOfWork, events: Sequence[EventEnvelope], generation: int | None = None,
        only: str | None = None,
    ) -> None:
        """Apply inline projections (or just `only`) to `events`."""
        for event in events:
            projections = self._inline.get(event.event_type)
            if not projections:
                continue
            current = self._upcaster.upcast(event)
            for projection in projections:
                if only is None or projection.name == only:
                    projection.apply(
                        uow.read_models.writer(event.tenant_id, projection.name, generation),
                        current,
                    )
