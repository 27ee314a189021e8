"""Loading aggregate state: the stream, upcast to current versions, folded.

Upcasting happens here and nowhere else, so handlers, projections and
queries only ever see current event versions, and an event version nobody
registered stops the load instead of being folded wrongly.
"""

from __future__ import annotations

from typing import Any, TypeVar

from signoff.server.domain import AggregateType, Domain, Loaded
from signoff.server.errors import SignoffError
from signoff.store.ports import UnitOfWork
from signoff.store.records import EventEnvelope

T = TypeVar("T")


class UnknownEventVersion(SignoffError):
    code = "unknown_event_version"


class Upcaster:
    def __init__(self, domain: Domain) -> None:
        self._current = dict(domain.event_versions)
        self._steps = dict(domain.upcasters)

    def current_version(self, event_type: str) -> int | None:
        return self._current.get(event_type)

    def upcast(self, event: EventEnvelope) -> EventEnvelope:
        current = self._current.get(event.event_type)
        if current is None:
            raise UnknownEventVersion(f"unknown event type {event.event_type!r}")
        if event.event_version == current:
            return event
        if event.event_version > current:
            raise UnknownEventVersion(
                f"{event.event_type} v{event.event_version} is newer than this domain (v{current})"
            )
        payload: dict[str, Any] = dict(event.payload)
        for version in range(event.event_version, current):
            step = self._steps.get((event.event_type, version))
            if step is None:
                raise UnknownEventVersion(
                    f"no upcaster for {event.event_type} v{version} -> v{version + 1}"
                )
            payload = step(payload)
        return event.model_copy(update={"event_version": current, "payload": payload})


class TxStateLoader:
    """A tenant-scoped `StateLoader` over one unit of work.

    It remembers what it loaded, so a submission's pre-check and the
    execution that follows in the same transaction fold each stream once.
    Whoever appends to an aggregate must `forget` it (the committer does)."""

    def __init__(self, uow: UnitOfWork, tenant_id: str, upcaster: Upcaster) -> None:
        self._uow = uow
        self._tenant_id = tenant_id
        self._upcaster = upcaster
        self._loaded: dict[tuple[str, str], Loaded[Any]] = {}

    @property
    def uow(self) -> UnitOfWork:
        return self._uow

    def load(self, aggregate: AggregateType[T], aggregate_id: str) -> Loaded[T]:
        key = (aggregate.name, aggregate_id)
        cached = self._loaded.get(key)
        if cached is not None:
            return cached
        events = self._uow.events.stream(self._tenant_id, aggregate.name, aggregate_id)
        state = aggregate.initial()
        for event in events:
            state = aggregate.apply(state, self._upcaster.upcast(event))
        loaded = Loaded(state=state, version=events[-1].aggregate_version if events else 0)
        self._loaded[key] = loaded
        return loaded

    def forget(self, aggregate_type: str, aggregate_id: str) -> None:
        self._loaded.pop((aggregate_type, aggregate_id), None)
