"""The asynchronous projector: read models that catch up after the commit.

Each projection with `mode="async"` has a checkpoint (the last event position
it reflects). A step reads the next chunk of events in global order, applies
them, and moves the checkpoint in the same transaction: a crash repeats a
whole chunk or nothing, and `apply` is idempotent per event, so a repeated
event changes nothing.

Per aggregate, versions must arrive as 1, 2, 3... A version that skips ahead
means the projection would fold a history with a hole in it; the projector
then stops that projection just before the event and reports projection,
aggregate and versions. It never skips: a stalled read model says how far
behind it is (queries report `lag`), a wrong one would not.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import anyio

from signoff.server.domain import Domain, Projection
from signoff.server.errors import SignoffError
from signoff.server.observability import span
from signoff.server.state.aggregates import Upcaster
from signoff.server.state.documents import CachedDocuments, Retained
from signoff.store.ports import Store, UnitOfWork
from signoff.store.records import EventEnvelope
from signoff.store.wakeups import rest

log = logging.getLogger("signoff.projector")
Key = tuple[str, str, str]  # tenant, aggregate type, aggregate id
Lookup = Callable[[EventEnvelope], int]
# Events per transaction: bounds how long a step holds the writer. 4000
# hold it no longer than 2000 did before a step kept its documents and
# decoded events without pydantic's copy (issue 13): the bench's longest
# catch-up step, 10,000 events over 1,000 cases, 60 ms of CPU against 110.
CHUNK = 4000
ERROR_RETRY = 30.0  # seconds before a projection that raised is tried again


def checkpoint_name(projection: str) -> str:
    return f"projection:{projection}"


class ProjectionGap(SignoffError):
    """An event arrived whose aggregate version skips ahead of the last one seen."""

    def __init__(self, projection: str, event: EventEnvelope, expected: int) -> None:
        self.projection = projection
        self.tenant_id = event.tenant_id
        self.aggregate = f"{event.aggregate_type}/{event.aggregate_id}"
        self.expected = expected
        self.found = event.aggregate_version
        self.position = event.position
        super().__init__(
            f"projection {projection} stopped at position {event.position}: "
            f"{self.aggregate} (tenant {event.tenant_id}) jumps to version {self.found}, "
            f"expected {expected}")


def prior_version(uow: UnitOfWork, event: EventEnvelope) -> int:
    """The aggregate's highest version committed before this event."""
    stream = uow.events.stream(event.tenant_id, event.aggregate_type, event.aggregate_id)
    return max((e.aggregate_version for e in stream if e.position < event.position), default=0)


class VersionTracker:
    """The last version seen per aggregate.

    With a `lookup` (the projector, starting from a checkpoint), it keeps only
    aggregates the projection cares about (those with an event it handles),
    and a bounded number of them: an aggregate it does not know, or forgot,
    is looked up again. Without one (a replay from position 0), every
    aggregate starts at version 0 and each of its events, handled or not,
    must come next; such a tracker must be unbounded (`capacity=None`),
    because a forgotten aggregate would look like a gap."""

    def __init__(self, projection: str, capacity: int | None = 100_000,
                 parent: VersionTracker | None = None) -> None:
        self.projection = projection
        self._capacity = capacity
        self._last: OrderedDict[Key, int] = OrderedDict()
        self._parent = parent

    def _known(self, key: Key) -> int | None:
        if key in self._last:
            return self._last[key]
        return self._parent._known(key) if self._parent is not None else None

    def admit(self, event: EventEnvelope, handled: bool, lookup: Lookup | None = None) -> bool:
        """True if the projection should apply `event` now; False for an event
        it does not handle or has already seen. Raises ProjectionGap."""
        key = (event.tenant_id, event.aggregate_type, event.aggregate_id)
        last = self._known(key)
        if last is None:
            if lookup is None:
                last = 0  # a replay from 0: this is the aggregate's first event
            elif not handled:
                return False  # not an aggregate we track; looked up when it is
            else:  # version 1 has no predecessor to look up
                last = 0 if event.aggregate_version == 1 else lookup(event)
        if event.aggregate_version <= last:
            return False
        if event.aggregate_version != last + 1:
            raise ProjectionGap(self.projection, event, last + 1)
        self._last[key] = event.aggregate_version
        self._last.move_to_end(key)
        self._trim()
        return handled

    def _trim(self) -> None:
        while self._capacity is not None and len(self._last) > self._capacity:
            self._last.popitem(last=False)

    def stage(self) -> VersionTracker:
        """A child whose updates reach this tracker only on `commit`: what a
        transaction saw is kept only if it committed."""
        return VersionTracker(self.projection, self._capacity, parent=self)

    def commit(self) -> None:
        assert self._parent is not None, "only a staged tracker commits"
        for key, version in self._last.items():
            self._parent._last[key] = version
            self._parent._last.move_to_end(key)
        self._parent._trim()

    def clear(self) -> None:
        self._last.clear()


@dataclass(frozen=True)
class ProjectionStatus:
    name: str
    checkpoint: int
    head: int
    stalled: str | None = None

    @property
    def lag(self) -> int:
        return max(0, self.head - self.checkpoint)


@dataclass(frozen=True)
class _Step:
    last: int
    applied: int
    read: int
    gap: ProjectionGap | None
    docs: dict[str, CachedDocuments]  # by tenant: what the step read and wrote
    alone: bool  # the checkpoint was the one this projector last wrote


class Projector:
    """Catches the domain's async projections up with the event log."""

    def __init__(
        self, store: Store, domain: Domain, upcaster: Upcaster, *, chunk: int = CHUNK,
        poll: float = 0.2, on_progress: Callable[[str, int], None] | None = None,
    ) -> None:
        self._store = store
        self._upcaster = upcaster
        self._chunk = chunk
        self._poll = poll
        self._on_progress = on_progress
        self.projections: Sequence[Projection] = [
            p for p in domain.projections if p.mode == "async"]
        self._trackers = {p.name: VersionTracker(p.name) for p in self.projections}
        self._written: dict[str, int] = {}  # checkpoint this projector last wrote
        self._retained = {p.name: Retained() for p in self.projections}
        self.stalled: dict[str, str] = {}
        self._retry_at: dict[str, float] = {}  # errors (not gaps) are retried

    def _process(self, uow: UnitOfWork, projection: Projection,
                 tracker: VersionTracker) -> _Step:
        name = checkpoint_name(projection.name)
        start = uow.checkpoints.get(name)
        alone = self._written.get(projection.name) == start
        if not alone:
            # Someone else moved it (a rebuild's swap, another projector):
            # what we remember may have holes; look versions up again, and
            # documents too (the main thread drops them once this commits).
            self._trackers[projection.name].clear()
        events = uow.events.read_after(start, self._chunk)
        retained = self._retained[projection.name] if alone else None
        docs = self._prefetched(uow, projection, events, retained)
        last, applied, gap = start, 0, None
        for event in events:
            try:
                wanted = tracker.admit(event, event.event_type in projection.handles,
                                       lambda e: prior_version(uow, e))
            except ProjectionGap as found:
                gap = found
                break
            if wanted:
                writer = docs.get(event.tenant_id)
                if writer is None:
                    writer = docs[event.tenant_id] = CachedDocuments(
                        uow.read_models.writer(event.tenant_id, projection.name))
                projection.apply(writer, self._upcaster.upcast(event))
                applied += 1
            last = event.position
        for writer in docs.values():
            writer.flush()
        if last != start:
            uow.checkpoints.set(name, last)
        return _Step(last=last, applied=applied, read=len(events), gap=gap, docs=docs,
                     alone=alone)

    @staticmethod
    def _prefetched(uow: UnitOfWork, projection: Projection, events: Sequence[EventEnvelope],
                    retained: Retained | None) -> dict[str, CachedDocuments]:
        """A cache per tenant holding the documents keyed by the chunk's
        handled aggregates: those the last step left (`retained`, when still
        valid), the rest read in one statement per tenant. Projections
        usually key documents by aggregate id; any other key they touch is
        read when first asked for."""
        keys: dict[str, set[str]] = {}
        for event in events:
            if event.event_type in projection.handles:
                keys.setdefault(event.tenant_id, set()).add(event.aggregate_id)
        docs = {}
        for tenant_id, tenant_keys in keys.items():
            cache = docs[tenant_id] = CachedDocuments(
                uow.read_models.writer(tenant_id, projection.name))
            if retained is not None and cache.generation is not None \
                    and cache.generation == retained.generation:
                cache.seed(retained.known(tenant_id, tenant_keys))
            cache.prefetch(tenant_keys)
        return docs

    async def step(self, projection: Projection) -> int:
        """Project the next chunk; returns how many events were read (0 when
        caught up or stalled)."""
        if projection.name in self.stalled:
            retry_at = self._retry_at.get(projection.name)
            if retry_at is None or time.monotonic() < retry_at:
                return 0
            del self.stalled[projection.name], self._retry_at[projection.name]
        attempts: list[VersionTracker] = []

        def process(uow: UnitOfWork) -> _Step:
            # A store may run a job again after rolling it back (PostgreSQL,
            # after a deadlock): each attempt stages from what has committed.
            attempts.append(self._trackers[projection.name].stage())
            return self._process(uow, projection, attempts[-1])

        with span("projector.step", projection=projection.name):
            try:
                result = await self._store.write(process)
            except Exception as exc:
                # Not a gap: perhaps transient (a locked database), perhaps
                # not (an event version nobody can upcast). Stop, say why,
                # and let the worker try again later.
                self._retained[projection.name].clear()  # rolled back: never stored
                self.stalled[projection.name] = f"{type(exc).__name__}: {exc}"
                self._retry_at[projection.name] = time.monotonic() + ERROR_RETRY
                log.exception("projection %s failed", projection.name,
                              extra={"projection": projection.name})
                return 0
        attempts[-1].commit()
        self._keep(projection.name, result)
        self._written[projection.name] = result.last
        if self._on_progress is not None:
            self._on_progress(projection.name, result.last)
        if result.gap is not None:
            self.stalled[projection.name] = str(result.gap)
            log.error("projection stopped at a version gap", extra={
                "projection": projection.name, "aggregate": result.gap.aggregate,
                "tenant_id": result.gap.tenant_id, "expected_version": result.gap.expected,
                "found_version": result.gap.found, "position": result.gap.position})
            return 0
        return result.read

    def _keep(self, name: str, result: _Step) -> None:
        """Keep what a committed step left of the documents for the next."""
        retained = self._retained[name]
        if not result.alone:
            retained.clear()
        if result.docs:
            generation = next(iter(result.docs.values())).generation
            retained.keep(generation, result.docs)

    async def catch_up(self) -> list[ProjectionStatus]:
        """Run every async projection up to the head (or its gap)."""
        for projection in self.projections:
            while await self.step(projection) >= self._chunk:
                pass
        return await self.status()

    async def status(self) -> list[ProjectionStatus]:
        def read(uow: UnitOfWork) -> list[ProjectionStatus]:
            head = uow.events.head()
            return [
                ProjectionStatus(p.name, uow.checkpoints.get(checkpoint_name(p.name)), head,
                                 self.stalled.get(p.name))
                for p in self.projections
            ]

        return await self._store.read(read)

    async def run(self, stop: anyio.Event) -> None:
        """Keep the projections caught up until `stop` is set: a pass after
        each commit of events the store tells of, and every `poll` seconds."""
        changes = self._store.changes()
        while not stop.is_set():
            busy = False
            for projection in self.projections:
                busy = await self.step(projection) >= self._chunk or busy
            if not busy:
                await rest(changes, stop, self._poll)
