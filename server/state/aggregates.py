"""Loading aggregate state: the stream, upcast to current versions, folded.

Upcasting happens here and nowhere else, so handlers, projections and
queries only ever see current event versions, and an event version nobody
registered stops the load instead of being folded wrongly.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from signoff.server.domain import AggregateType, Domain, Loaded
from signoff.server.errors import SignoffError
from signoff.store.ports import UnitOfWork
from signoff.store.records import EventEnvelope

T = TypeVar("T")


class UnknownEventVersion(SignoffError):
    code = "unknown_event_version"


class Upcaster:
    """`extra` names event types signoff itself records beside the domain's
    (an upstream call's), at their current versions."""

    def __init__(self, domain: Domain, extra: Mapping[str, int] | None = None) -> None:
        self._current = {**(extra or {}), **domain.event_versions}
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


@dataclass(frozen=True)
class _Folded:
    state: Any
    version: int
    last_event_id: str


class StateCache:
    """Folded aggregate states kept across transactions, so a long stream is
    not replayed for every command.

    A cached state is only a starting point, never trusted as is: loading
    reads the stream from the cached version on and uses the cache only if
    the event stored at that version is the one the state was folded up to.
    A state folded inside a transaction that later rolled back (or was
    never committed) therefore never survives its next use. States must be
    immutable values (the domain's `apply` returns new ones)."""

    def __init__(self, size: int = 10_000) -> None:
        self._size = size
        self._entries: OrderedDict[tuple[str, str, str], _Folded] = OrderedDict()
        self._existing: OrderedDict[tuple[str, str, str], None] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple[str, str, str]) -> _Folded | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                self._entries.move_to_end(key)
            return entry

    def put(self, key: tuple[str, str, str], entry: _Folded) -> None:
        with self._lock:
            self._entries[key] = entry
            self._entries.move_to_end(key)
            while len(self._entries) > self._size:
                self._entries.popitem(last=False)

    def known_to_exist(self, key: tuple[str, str, str]) -> bool:
        with self._lock:
            if key not in self._existing:
                return False
            self._existing.move_to_end(key)
            return True

    def confirm(self, keys: Iterable[tuple[str, str, str]]) -> None:
        """Aggregates a transaction that has since committed saw to exist.
        Unlike a state, this is a fact for good: events are never deleted
        (both stores refuse it), so an aggregate with a committed event has
        one in every later transaction, in any process. Only the caller
        knows the commit happened: a transaction that saw an event of its
        own, or of a job batched before it, may still roll back."""
        with self._lock:
            for key in keys:
                self._existing[key] = None
                self._existing.move_to_end(key)
            while len(self._existing) > self._size:
                self._existing.popitem(last=False)


class TxStateLoader:
    """A tenant-scoped `StateLoader` over one unit of work.

    It remembers what it loaded, so a submission's pre-check and the
    execution that follows in the same transaction fold each stream once.
    Whoever appends to an aggregate must `forget` it (the executor does).
    With a `StateCache`, it folds only the events a cached state lacks."""

    def __init__(
        self, uow: UnitOfWork, tenant_id: str, upcaster: Upcaster,
        cache: StateCache | None = None,
    ) -> None:
        self._uow = uow
        self._tenant_id = tenant_id
        self._upcaster = upcaster
        self._cache = cache
        self._loaded: dict[tuple[str, str], Loaded[Any]] = {}
        # Seen to exist by `exists`, for `StateCache.confirm` once committed.
        self.seen_existing: list[tuple[str, str, str]] = []

    @property
    def uow(self) -> UnitOfWork:
        return self._uow

    def load(self, aggregate: AggregateType[T], aggregate_id: str) -> Loaded[T]:
        key = (aggregate.name, aggregate_id)
        cached = self._loaded.get(key)
        if cached is not None:
            return cached
        loaded = self._fold(aggregate, aggregate_id)
        self._loaded[key] = loaded
        return loaded

    def exists(self, aggregate: AggregateType[T], aggregate_id: str) -> bool:
        """Whether the aggregate has any event: known from a committed
        transaction, or its version, read without reading or folding its
        stream (cited evidence is only checked)."""
        cached = self._loaded.get((aggregate.name, aggregate_id))
        if cached is not None:
            return cached.exists
        key = (self._tenant_id, aggregate.name, aggregate_id)
        if self._cache is not None and self._cache.known_to_exist(key):
            return True
        found = self._uow.events.version(*key) > 0
        if found:
            self.seen_existing.append(key)
        return found

    def fresh(self, aggregate: AggregateType[T], aggregate_id: str) -> Loaded[T]:
        """An aggregate under an id minted for it just now: it has no events,
        so there is nothing to read (its first append would still meet the
        unique version should the id ever have been taken)."""
        loaded: Loaded[T] = Loaded(state=aggregate.initial(), version=0)
        self._loaded[(aggregate.name, aggregate_id)] = loaded
        return loaded

    def _fold(self, aggregate: AggregateType[T], aggregate_id: str) -> Loaded[T]:
        key = (self._tenant_id, aggregate.name, aggregate_id)
        start = self._cache.get(key) if self._cache else None
        state: Any = None
        version, events = 0, []
        if start is not None:
            events = self._uow.events.stream(*key, from_version=start.version)
            if events and events[0].event_id == start.last_event_id:
                state, version, events = start.state, start.version, events[1:]
            else:
                start = None
        if start is None:
            state = aggregate.initial()
            events = self._uow.events.stream(*key)
        last_event_id = start.last_event_id if start else ""
        for event in events:
            state = aggregate.apply(state, self._upcaster.upcast(event))
            version, last_event_id = event.aggregate_version, event.event_id
        # A cached state confirmed as it was stays as it is (`get` made it recent).
        if self._cache is not None and version > 0 and (start is None or events):
            self._cache.put(key, _Folded(state, version, last_event_id))
        return Loaded(state=state, version=version)

    def forget(self, aggregate_type: str, aggregate_id: str) -> None:
        self._loaded.pop((aggregate_type, aggregate_id), None)


class Loaders:
    """Makes the `TxStateLoader` for a transaction, sharing one cache."""

    def __init__(self, upcaster: Upcaster, cache: StateCache | None = None) -> None:
        self.upcaster = upcaster
        self.cache = cache if cache is not None else StateCache()

    def __call__(self, uow: UnitOfWork, tenant_id: str) -> TxStateLoader:
        return TxStateLoader(uow, tenant_id, self.upcaster, self.cache)

    def committed(self, loader: TxStateLoader) -> None:
        """Call once the loader's transaction has committed (never before:
        what it saw may be its own events, or a batched job's)."""
        self.cache.confirm(loader.seen_existing)
