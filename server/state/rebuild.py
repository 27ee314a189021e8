"""Rebuilding projections by replay into fresh generations, then swapping.

Queries keep reading the live generation throughout. Events are replayed in
chunks into a write-back cache (a fresh generation starts empty, so the cache
is the whole truth and no document is read back from disk), written out
whenever FLUSH_DOCS changed documents are waiting, each in one statement per
projection and tenant: a document changed by many events of the replay is
written once per flush, not once per chunk. The last chunk is replayed, what
is left flushed and the generation activated in the same transaction, so
events committed meanwhile are never missed. Each chunk is read in the same
snapshot as a check that no newer rebuild began, so a superseded one stops
at its next chunk whether or not it had anything to flush.

Async projections are rebuilt the same way, checked for version gaps as the
projector checks them, and their checkpoint is set to the last replayed
position in the swapping transaction: the projector carries on from there.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from signoff.server.domain import Domain, Projection
from signoff.server.state.aggregates import Upcaster
from signoff.server.state.projector import Key, VersionTracker, checkpoint_name
from signoff.store.ports import Store, UnitOfWork
from signoff.store.records import EventEnvelope

CHUNK = 5000
# Changed documents the cache holds before writing them: bounds how long one
# flush holds the writer, and what the swapping transaction writes.
FLUSH_DOCS = 5000
Progress = Callable[[int, int], None]
# An event type's projections: those without a tracker that handle it, and
# every one with a tracker, with whether it handles it.
_Plan = tuple[list[Projection], list[tuple[Projection, VersionTracker, bool]]]
_GONE = object()


class _FreshDocuments:
    """A `ReadModelWriter` over a cache for one (tenant, projection)."""

    def __init__(self, cache: dict[str, Any]) -> None:
        self._cache = cache
        self.dirty: set[str] = set()

    def get(self, key: str) -> dict[str, Any] | None:
        entry = self._cache.get(key)
        return None if entry is None or entry is _GONE else dict(entry[0])

    def put(
        self, key: str, doc: Mapping[str, Any], index: str | None = None, *,
        text: str | None = None,
    ) -> None:
        self._cache[key] = (dict(doc), index, text)
        self.dirty.add(key)

    def delete(self, key: str) -> None:
        self._cache[key] = _GONE
        self.dirty.add(key)


def _key(event: EventEnvelope) -> Key:
    return (event.tenant_id, event.aggregate_type, event.aggregate_id)


class Rebuild:
    def __init__(self, projections: Sequence[Projection], upcaster: Upcaster) -> None:
        self._projections = projections
        self._upcaster = upcaster
        self._docs: dict[tuple[str, str], _FreshDocuments] = {}
        self._caches: dict[tuple[str, str], dict[str, Any]] = {}
        self.generations: dict[str, int] = {}
        self._trackers = {p.name: VersionTracker(p.name) for p in projections
                          if p.mode == "async"}
        # The highest version of each aggregate replayed so far: what the
        # projector looks up in the log for an aggregate its tracker does not
        # know (or forgot), so a rebuild admits, and refuses, exactly the
        # events the projector does.
        self._versions: dict[Key, int] = {}
        # The last position replayed: a swapping job run again after a
        # rollback reads its tail again, whose events the caches hold already.
        self.applied = 0
        self._plans: dict[str, _Plan] = {}  # by event type

    def _writer(self, tenant_id: str, projection: str) -> _FreshDocuments:
        key = (tenant_id, projection)
        if key not in self._docs:
            self._docs[key] = _FreshDocuments(self._caches.setdefault(key, {}))
        return self._docs[key]

    def apply(self, events: Sequence[EventEnvelope]) -> None:
        versions = self._versions
        for event in events:
            if event.position <= self.applied:
                continue
            self.applied = event.position
            plan = self._plans.get(event.event_type)
            if plan is None:
                plan = self._plans[event.event_type] = self._plan(event.event_type)
            inline, tracked = plan
            wanted = list(inline)
            if self._trackers:
                key = (event.tenant_id, event.aggregate_type, event.aggregate_id)
                for projection, tracker, handled in tracked:
                    if tracker.admit(event, handled, lambda e: versions.get(_key(e), 0)):
                        wanted.append(projection)
                if versions.get(key, 0) < event.aggregate_version:
                    versions[key] = event.aggregate_version
            if not wanted:
                continue
            current = self._upcaster.upcast(event)
            for projection in wanted:
                projection.apply(self._writer(event.tenant_id, projection.name), current)

    def _plan(self, event_type: str) -> _Plan:
        """Which projections an event type reaches: those without a tracker
        (handled or not, decided by type alone) and, in their order, those
        with one (every event goes through its tracker, handled or not)."""
        inline, tracked = [], []
        for projection in self._projections:
            handled = event_type in projection.handles
            tracker = self._trackers.get(projection.name)
            if tracker is not None:
                tracked.append((projection, tracker, handled))
            elif handled:
                inline.append(projection)
        return inline, tracked

    @property
    def pending(self) -> int:
        """Changed documents not written yet."""
        return sum(len(docs.dirty) for docs in self._docs.values())

    def check(self, uow: UnitOfWork) -> None:
        """Raises GenerationSuperseded once a newer rebuild of any of the
        projections began: this one could never be activated, so it stops."""
        for name, generation in self.generations.items():
            uow.read_models.activate(name, generation, check_only=True)

    def flush(self, uow: UnitOfWork) -> None:
        """Write what changed since the last flush; raises GenerationSuperseded
        (writing nothing) as `check` does."""
        self.check(uow)
        for (tenant_id, projection), docs in self._docs.items():
            if not docs.dirty:
                continue
            target = uow.read_models.writer(tenant_id, projection, self.generations[projection])
            cache = self._caches[(tenant_id, projection)]
            dirty = sorted(docs.dirty)  # key order: the B-tree's, so pages fill in order
            target.delete_many([key for key in dirty if cache[key] is _GONE])
            target.put_many([(key, *cache[key]) for key in dirty if cache[key] is not _GONE])

    def flushed(self) -> None:
        """The last `flush` committed: what it wrote is clean. Only then, as
        a store may run the flushing job again after rolling it back."""
        for docs in self._docs.values():
            docs.dirty.clear()


async def rebuild_projections(
    store: Store, domain: Domain, upcaster: Upcaster, names: Sequence[str] | None = None,
    *, chunk: int = CHUNK, progress: Progress | None = None,
) -> dict[str, int]:
    """Rebuild the named projections (all when None), inline and async;
    returns the position each was rebuilt up to. Raises ProjectionGap (and
    swaps nothing in) when an async projection's history has a hole, and
    GenerationSuperseded (swapping nothing in) when another rebuild of one of
    the projections began meanwhile: the newer one wins."""
    chosen = [p for p in domain.projections if names is None or p.name in names]
    unknown = set(names or ()) - {p.name for p in chosen}
    if unknown:
        raise KeyError(f"unknown projection(s): {', '.join(sorted(unknown))}")
    job = Rebuild(chosen, upcaster)
    job.generations = await store.write(
        lambda uow: {p.name: uow.read_models.begin_generation(p.name) for p in chosen})
    head = await store.read(lambda uow: uow.events.head())
    position = 0
    while True:
        def next_chunk(uow: UnitOfWork, after: int = position) -> list[EventEnvelope]:
            job.check(uow)
            return uow.events.read_after(after, chunk)

        events = await store.read(next_chunk)
        if len(events) < chunk:
            break  # the tail is replayed in the swapping transaction
        job.apply(events)
        if job.pending >= FLUSH_DOCS:
            await store.write(job.flush)
            job.flushed()
        position = events[-1].position
        if progress:
            progress(position, max(head, position))

    def finish(uow: UnitOfWork) -> int:
        tail = uow.events.read_after(position, 2**62)
        job.apply(tail)
        job.flush(uow)
        last = tail[-1].position if tail else position
        for name, generation in job.generations.items():
            uow.read_models.activate(name, generation)
        for projection in chosen:
            if projection.mode == "async":
                uow.checkpoints.set(checkpoint_name(projection.name), last)
        return last

    final = await store.write(finish)
    if progress:
        progress(final, final)
    return {p.name: final for p in chosen}
