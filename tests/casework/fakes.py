"""In-memory stand-ins for what the framework gives a domain, for pure unit tests.

`MemoryReadModels` is a ReadModelWriter/ReadModelReader pair keyed by tenant and
projection; documents go through a JSON round trip, as they would through a
database, so a non-serialisable document fails here too. `World` is a tiny
executor: it stamps envelopes, folds aggregates, runs projections and decides
commands — enough to drive the casework domain through realistic sequences
without a store.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from signoff.examples.casework import build_domain
from signoff.server.domain import (
    AggregateType,
    CommandType,
    DecideContext,
    Domain,
    Loaded,
    NewEvent,
    Rejection,
    SearchHit,
    SeedEvent,
)
from signoff.store.records import Actor, EventEnvelope
from signoff.store.search_terms import terms, words

T = TypeVar("T")

EPOCH = datetime(2025, 1, 6, 9, 0, tzinfo=UTC)
AGENT = Actor(id="agent:triage", kind="agent")
SYSTEM = Actor(id="system", kind="system")


def envelope(
    event_type: str,
    payload: Mapping[str, Any],
    *,
    aggregate_id: str = "case-acme-001",
    aggregate_type: str = "case",
    version: int = 1,
    event_version: int = 1,
    tenant_id: str = "acme",
    position: int = 0,
    event_id: str | None = None,
    occurred_at: datetime | None = None,
) -> EventEnvelope:
    """A committed event as the framework would hand it to apply/projections."""
    return EventEnvelope(
        event_id=event_id or f"evt-{aggregate_id}-{version}",
        event_type=event_type,
        event_version=event_version,
        tenant_id=tenant_id,
        aggregate_type=aggregate_type,
        aggregate_id=aggregate_id,
        aggregate_version=version,
        actor_type="system",
        actor_id="system",
        payload_schema=f"{event_type}/v{event_version}",
        payload=dict(payload),
        occurred_at=occurred_at or EPOCH + timedelta(minutes=version),
        position=position,
    )


@dataclass
class _Doc:
    body: str
    index: str | None
    text: str | None = None


@dataclass
class MemoryReadModels:
    """Every projection's documents, per tenant, plus the event log for
    `recent_events`. Insertion order is kept, as a table scan would."""

    docs: dict[tuple[str, str, str], _Doc] = field(default_factory=dict)
    events: list[EventEnvelope] = field(default_factory=list)

    def writer(self, tenant_id: str, projection: str) -> MemoryWriter:
        return MemoryWriter(self, tenant_id, projection)

    def reader(self, tenant_id: str) -> MemoryReader:
        return MemoryReader(self, tenant_id)


@dataclass
class MemoryWriter:
    models: MemoryReadModels
    tenant: str
    projection: str
    puts: int = 0

    def get(self, key: str) -> dict[str, Any] | None:
        doc = self.models.docs.get((self.tenant, self.projection, key))
        return None if doc is None else dict(json.loads(doc.body))

    def put(
        self, key: str, doc: Mapping[str, Any], index: str | None = None, *,
        text: str | None = None,
    ) -> None:
        self.puts += 1
        self.models.docs[(self.tenant, self.projection, key)] = _Doc(
            json.dumps(dict(doc)), index, text)

    def delete(self, key: str) -> None:
        self.models.docs.pop((self.tenant, self.projection, key), None)


@dataclass
class MemoryReader:
    models: MemoryReadModels
    _tenant: str

    @property
    def tenant_id(self) -> str:
        return self._tenant

    def get(self, projection: str, key: str) -> dict[str, Any] | None:
        return self.models.writer(self._tenant, projection).get(key)

    def find(
        self, projection: str, *, index: str | None = None, limit: int = 100
    ) -> list[dict[str, Any]]:
        found = [
            dict(json.loads(doc.body))
            for (tenant, name, _), doc in self.models.docs.items()
            if tenant == self._tenant and name == projection
            and (index is None or doc.index == index)
        ]
        return found[:limit]

    def search(self, projection: str, query: str, *, limit: int = 10) -> list[SearchHit]:
        """Scored by how many of the query's words a document's text holds
        (the stores rank better; this keeps "matches or not" honest)."""
        wanted = set(terms(query))
        hits = []
        for (tenant, name, key), doc in self.models.docs.items():
            if tenant == self._tenant and name == projection and doc.text is not None:
                score = len(wanted & set(words(doc.text)))
                if score:
                    hits.append(SearchHit(key, dict(json.loads(doc.body)), float(score)))
        return sorted(hits, key=lambda h: (-h.score, h.key))[:limit]

    def recent_events(
        self, aggregate_type: str, aggregate_id: str, limit: int = 10
    ) -> list[EventEnvelope]:
        mine = [
            e for e in self.models.events
            if (e.tenant_id, e.aggregate_type, e.aggregate_id)
            == (self._tenant, aggregate_type, aggregate_id)
        ]
        return sorted(mine, key=lambda e: e.position, reverse=True)[:limit]


@dataclass
class World:
    """One in-memory deployment of a domain: streams, read models, a clock."""

    domain: Domain = field(default_factory=build_domain)
    streams: dict[tuple[str, str, str], list[EventEnvelope]] = field(default_factory=dict)
    models: MemoryReadModels = field(default_factory=MemoryReadModels)
    next_id: int = 0

    @classmethod
    def seeded(cls) -> World:
        world = cls()
        assert world.domain.seed is not None
        world.seed(world.domain.seed())
        return world

    def seed(self, seeds: Sequence[SeedEvent]) -> None:
        for s in seeds:
            self.append(s.tenant_id, s.aggregate, s.aggregate_id, s.event, SYSTEM)

    def stream(self, tenant: str, aggregate: AggregateType[Any], aggregate_id: str) -> list[
        EventEnvelope
    ]:
        return self.streams.setdefault((tenant, aggregate.name, aggregate_id), [])

    def append(
        self, tenant: str, aggregate: AggregateType[Any], aggregate_id: str, event: NewEvent,
        actor: Actor = AGENT,
    ) -> EventEnvelope:
        stream = self.stream(tenant, aggregate, aggregate_id)
        position = len(self.models.events) + 1
        env = EventEnvelope(
            event_id=f"evt-{position}", event_type=event.type, event_version=event.version,
            tenant_id=tenant, aggregate_type=aggregate.name, aggregate_id=aggregate_id,
            aggregate_version=len(stream) + 1, actor_type=actor.kind, actor_id=actor.id,
            payload_schema=f"{event.type}/v{event.version}", payload=dict(event.payload),
            occurred_at=EPOCH + timedelta(minutes=position), position=position,
        )
        stream.append(env)
        self.models.events.append(env)
        for projection in self.domain.projections:
            if env.event_type in projection.handles:
                projection.apply(self.models.writer(tenant, projection.name), env)
        return env

    def load(self, tenant: str, aggregate: AggregateType[T], aggregate_id: str) -> Loaded[T]:
        state = aggregate.initial()
        stream = self.streams.get((tenant, aggregate.name, aggregate_id), [])
        for env in stream:
            state = aggregate.apply(state, env)
        return Loaded(state=state, version=len(stream))

    def loader(self, tenant: str) -> TenantLoader:
        return TenantLoader(self, tenant)

    def decide(
        self, command_type: str, payload: Mapping[str, Any], tenant: str = "acme"
    ) -> tuple[str, Sequence[NewEvent] | Rejection]:
        """Validate the payload and run the handler on the current state, as
        the pre-check and the executor do; returns the aggregate id it used."""
        command: CommandType[Any, Any] | None = self.domain.command(command_type)
        assert command is not None, command_type
        model = command.payload.model_validate(dict(payload))
        if command.target is None:
            self.next_id += 1
            aggregate_id = f"{command.aggregate.name}-{self.next_id:03d}"
        else:
            aggregate_id = command.target(model)
        state = self.load(tenant, command.aggregate, aggregate_id).state
        ctx = DecideContext(tenant_id=tenant, actor=AGENT, aggregate_id=aggregate_id,
                            now=EPOCH, loader=self.loader(tenant))
        return aggregate_id, command.decide(state, model, ctx)

    def execute(
        self, command_type: str, payload: Mapping[str, Any], tenant: str = "acme"
    ) -> tuple[str, list[EventEnvelope]]:
        """Decide and commit; fails the test if the handler rejects."""
        aggregate_id, outcome = self.decide(command_type, payload, tenant)
        assert not isinstance(outcome, Rejection), outcome.reason
        command = self.domain.command(command_type)
        assert command is not None
        return aggregate_id, [
            self.append(tenant, command.aggregate, aggregate_id, e) for e in outcome
        ]


@dataclass(frozen=True)
class TenantLoader:
    world: World
    tenant: str

    def load(self, aggregate: AggregateType[T], aggregate_id: str) -> Loaded[T]:
        return self.world.load(self.tenant, aggregate, aggregate_id)
