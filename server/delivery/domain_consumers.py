"""A domain's own consumers (`Domain.consumers`), run by the relay.

The domain writes the effect (`Consumer.handle`); this adapter gives it the
event, the folder beside the database, and `propose`, through which the
handler records facts as its service principal — through the policy and the
executor, exactly as the notification consumer records a delivery. An
idempotency key the handler names is scoped to the consumer and the event,
so a redelivered event replays its stored receipts instead of committing
second facts.

The inbox is kept here: an event already handled is skipped before the
handler sees it, and the row is written once the handler returns. A handler
that raises leaves no row; the relay retries the event later.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from signoff.policies import NotAMemberError
from signoff.policies.principals import Principals
from signoff.server.clock import Clock
from signoff.server.delivery.consumers import Submit, handled_by
from signoff.server.delivery.sinks import BaseSink, SinkError
from signoff.server.domain import Consumer, NewEvent, Recorded
from signoff.server.observability import bound, span
from signoff.server.services.proposals import CallContext
from signoff.server.services.registry import ConsumerFactory, ConsumerPlace
from signoff.store.ports import Store
from signoff.store.records import EventEnvelope, OutboxMessage


class _Delivery:
    """One message as the domain's handler sees it (`signoff.server.Delivery`)."""

    def __init__(self, runner: DomainConsumer, message: OutboxMessage, event: EventEnvelope,
                 folder: Path) -> None:
        self._runner = runner
        self._message = message
        self._event = event
        self._folder = folder

    @property
    def event(self) -> EventEnvelope:
        return self._event

    @property
    def folder(self) -> Path:
        return self._folder

    async def propose(
        self, command: str, payload: Mapping[str, Any], *, key: str | None = None,
        rationale: str = "",
    ) -> Recorded:
        return await self._runner.propose(self._message, command, payload, key=key,
                                          rationale=rationale)


class DomainConsumer(BaseSink):
    """Runs one `Consumer` of the domain for one relay (module docstring).
    Internal: the handler acts on the event as committed, unredacted."""

    internal = True

    def __init__(
        self, consumer: Consumer, folder: Path, *, store: Store, submit: Submit,
        principals: Principals, clock: Clock,
    ) -> None:
        super().__init__(consumer.name, topics=sorted(consumer.topics))
        self.timeout = consumer.timeout
        self._consumer = consumer
        self._folder = folder
        self._store = store
        self._submit = submit
        self._principals = principals
        self._clock = clock

    async def publish(self, message: OutboxMessage) -> None:
        if not self.wants(message):
            return
        with bound(message_id=message.message_id, correlation_id=message.correlation_id), \
                span("consumer.domain", correlation_id=message.correlation_id,
                     message_id=message.message_id, consumer=self.name):
            if await handled_by(self._store, self.name, message.message_id):
                return
            event = EventEnvelope.model_validate(message.payload)
            try:
                await self._consumer.handle(_Delivery(self, message, event, self._folder))
            except SinkError:
                raise
            except Exception as exc:  # the handler's failure: retried later by the relay
                raise SinkError(f"{self.name}: {type(exc).__name__}: {exc}") from exc
            now = self._clock()
            await self._store.write(
                lambda uow: uow.inbox.record(self.name, message.message_id, now))

    async def propose(
        self, message: OutboxMessage, command: str, payload: Mapping[str, Any], *,
        key: str | None, rationale: str,
    ) -> Recorded:
        record = self._principals.get(self._consumer.principal)
        if record is None:
            raise SinkError(f"principal {self._consumer.principal} is not configured")
        try:
            principal = record.facts(message.tenant_id)
        except NotAMemberError as exc:
            raise SinkError(str(exc)) from exc
        arguments: dict[str, Any] = {
            **payload, "confidence": 1.0,
            "rationale": rationale or f"{self.name}, for event {message.message_id}"}
        if key is not None:
            arguments["idempotency_key"] = f"{self.name}:{message.message_id}:{key}"
        receipt = await self._submit(principal, command, arguments,
                                     CallContext(correlation_id=message.correlation_id))
        return Recorded(status=receipt.status, outcome=receipt.outcome, reason=receipt.reason,
                        events=tuple(NewEvent(e.event_type, e.payload) for e in receipt.events))


def domain_consumer_factory(
    consumer: Consumer, *, store: Store, submit: Submit, principals: Principals, clock: Clock,
) -> ConsumerFactory:
    """How the composition root registers a domain's consumer: one per relay,
    keeping its files in the database's folder."""
    def build(place: ConsumerPlace) -> DomainConsumer:
        return DomainConsumer(consumer, place.folder, store=store, submit=submit,
                              principals=principals, clock=clock)

    return build
