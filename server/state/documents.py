"""The documents an async projection's steps read and write.

`CachedDocuments` is one step's write-back cache over one tenant's
documents. `Retained` is what the projector keeps of those caches between
steps, so a document an aggregate's next events touch is not read and
decoded again: in a catch-up every chunk touches most of the same documents,
and reading them back was most of a step's time (issue 13).

Kept documents are trusted only while this projector is the projection's
one writer: the projector drops them when the checkpoint is not the one it
last wrote (another projector moved it, a rebuild's swap set it), when the
active generation is another one (a rebuild that ended at the very position
this projector had reached), and when a step fails (its transaction rolled
back, so what the step cached was never committed).

Like the step cache before it, this assumes a projection changes a document
only through `put`: `get` hands out a shallow copy, and nested values edited
in place without a `put` would be seen by later events but never written.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Collection, Mapping
from typing import Any

from signoff.store.ports import DocumentWriter

# Documents kept between steps, per projection: a bound on memory (a case's
# timeline is a few kilobytes as Python objects), not on correctness.
RETAINED_DOCS = 5_000
_GONE: Any = object()


class CachedDocuments:
    """A `ReadModelWriter` that reads through to the store once per key and
    writes back once per chunk, so an aggregate with many events in a chunk
    costs one read and one write. `prefetch` reads the keys a chunk is about
    to touch in one statement; `flush` writes every change in one more."""

    _GONE: Any = _GONE

    def __init__(self, target: DocumentWriter) -> None:
        self._target = target
        self._cache: dict[str, Any] = {}
        self._dirty: dict[str, tuple[str | None, str | None]] = {}  # key -> index, text

    @property
    def generation(self) -> int | None:
        """The generation written, where the store's writer says (both
        adapters do; a writer that does not leaves nothing retained)."""
        generation = getattr(self._target, "generation", None)
        return generation if isinstance(generation, int) else None

    def seed(self, known: Mapping[str, dict[str, Any] | None]) -> None:
        """Documents known to be stored as given (None: no document)."""
        self._cache.update(known)

    def prefetch(self, keys: Collection[str]) -> None:
        wanted = [key for key in keys if key not in self._cache]
        found = self._target.get_many(wanted)
        for key in wanted:
            self._cache[key] = found.get(key)

    def get(self, key: str) -> dict[str, Any] | None:
        if key not in self._cache:
            self._cache[key] = self._target.get(key)
        doc = self._cache[key]
        return None if doc is None or doc is self._GONE else dict(doc)

    def put(
        self, key: str, doc: Mapping[str, Any], index: str | None = None, *,
        text: str | None = None,
    ) -> None:
        self._cache[key] = dict(doc)
        self._dirty[key] = (index, text)

    def delete(self, key: str) -> None:
        self._cache[key] = self._GONE
        self._dirty[key] = (None, None)

    def flush(self) -> None:
        gone = [key for key in self._dirty if self._cache[key] is self._GONE]
        puts = [(key, self._cache[key], index, text)
                for key, (index, text) in self._dirty.items()
                if self._cache[key] is not self._GONE]
        if gone:
            self._target.delete_many(gone)
        if puts:
            self._target.put_many(puts)
        self._dirty.clear()

    def stored(self) -> dict[str, dict[str, Any] | None]:
        """Every document this cache read or wrote, as stored once flushed."""
        return {key: None if doc is self._GONE else doc for key, doc in self._cache.items()}


class Retained:
    """One projection's documents as its last committed step left them, by
    (tenant, key), the most recently used `capacity` of them, and the
    generation they belong to."""

    def __init__(self, capacity: int = RETAINED_DOCS) -> None:
        self._capacity = capacity
        self._docs: OrderedDict[tuple[str, str], dict[str, Any] | None] = OrderedDict()
        self.generation: int | None = None

    def known(self, tenant_id: str, keys: Collection[str]) -> dict[str, dict[str, Any] | None]:
        return {key: self._docs[(tenant_id, key)] for key in keys
                if (tenant_id, key) in self._docs}

    def keep(self, generation: int | None, caches: Mapping[str, CachedDocuments]) -> None:
        """After a committed step: what its caches (by tenant) hold now."""
        if generation is None or generation != self.generation:
            self.clear()
            if generation is None:
                return  # a store whose writers do not say: keep nothing
            self.generation = generation
        for tenant_id, cache in caches.items():
            for key, doc in cache.stored().items():
                self._docs[(tenant_id, key)] = doc
                self._docs.move_to_end((tenant_id, key))
        while len(self._docs) > self._capacity:
            self._docs.popitem(last=False)

    def clear(self) -> None:
        self._docs.clear()
        self.generation = None

    def __len__(self) -> int:
        return len(self._docs)
