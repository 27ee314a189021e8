"""The persistence ports, as Protocols every adapter implements.

They are synchronous on purpose: a whole transaction (claim a proposal, load an
aggregate, decide, append, write the outbox) runs as one function on the
adapter's writer thread, in one round trip, so the event loop never holds a
half-open transaction and group commit can wrap each job in a SAVEPOINT.
`Store.write(fn)` / `Store.read(fn)` are the async doors into them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any, Protocol, TypeVar

from signoff.store.records import (
    ConsoleSession,
    DecisionRecord,
    EventEnvelope,
    OutboxMessage,
    ProposalEvent,
    ProposalRecord,
    RuntimeEntry,
    Vote,
)

T = TypeVar("T")


class EventLog(Protocol):
    """Committed domain events: append-only, hash-chained, globally ordered."""

    def append(self, events: Sequence[EventEnvelope]) -> list[EventEnvelope]:
        """Stamp position, prev_hash and hash, and insert. Raises
        `VersionConflict` when an aggregate version is already taken."""
        ...

    def stream(
        self, tenant_id: str, aggregate_type: str, aggregate_id: str, from_version: int = 1
    ) -> list[EventEnvelope]:
        """The aggregate's events from `from_version` on, in version order."""
        ...

    def hold(self, tenant_id: str, aggregate_type: str, aggregate_id: str) -> None:
        """Hold the aggregate until this transaction ends: another job that
        holds it waits until then. A job that will append to an aggregate
        holds it before reading it, so commands on one aggregate run one
        after another as on SQLite (where one writer runs every job alone,
        and this does nothing) and never fail each other's version check.
        Hold one aggregate per job, before appending anything."""
        ...

    def version(self, tenant_id: str, aggregate_type: str, aggregate_id: str) -> int: ...

    def recent(
        self, tenant_id: str, aggregate_type: str, aggregate_id: str, limit: int
    ) -> list[EventEnvelope]: ...

    def read_after(
        self, position: int, limit: int, *, aggregate_id: str | None = None
    ) -> list[EventEnvelope]:
        """Up to `limit` events after `position`, in position order (only
        `aggregate_id`'s when given): how consumers page through the log.

        Visibility order: a reader sees the events committed before its unit
        of work began, all of a commit or none of it, and never one committed
        during it. Consumers keep a checkpoint (the last position read) and
        resume after it, so positions must become visible in order: once a
        reader sees position n, every position below n is visible to it too,
        and none committed later can appear below it. Otherwise a consumer
        would move its checkpoint past an event that commits afterwards and
        never read it. On SQLite this holds because the one writer serialises
        appends: positions are handed out and committed in the same order,
        without gaps (a rolled-back append leaves none). An adapter whose
        appends can commit concurrently must keep the same order, e.g. by
        handing out positions at commit or hiding those above the oldest
        append still open."""
        ...

    def head(self) -> int: ...

    def by_ids(self, event_ids: Sequence[str]) -> list[EventEnvelope]: ...

    def hashes_at(self, positions: Sequence[int]) -> dict[int, str]:
        """The hash of the event at each of these positions that holds one
        (absent positions are left out): how an anchor is checked."""
        ...


class Proposals(Protocol):
    """Proposals (current state), their lifecycle stream, decisions and votes."""

    def add(self, proposal: ProposalRecord) -> None:
        """Raises `DuplicateRecord` when the proposal id, or its principal's
        idempotency key within the tenant, is taken. A final proposal (and a
        proposal's identity and key) can never change afterwards."""
        ...

    def by_idempotency_key(
        self, tenant_id: str, actor_id: str, key: str
    ) -> ProposalRecord | None:
        """The proposal this principal made with this idempotency key."""
        ...

    def get(self, proposal_id: str, tenant_id: str | None) -> ProposalRecord | None:
        """tenant_id None is operator access (CLI on the database file)."""
        ...

    def claim(self, proposal_id: str, tenant_id: str | None) -> ProposalRecord | None:
        """`get` for a job about to change the proposal: its row stays locked
        until the transaction ends, so jobs changing one proposal (votes,
        execution, withdrawal, expiry) run one after the other, and each
        reads what the one before committed. (SQLite's one writer already
        runs every write job alone; PostgreSQL takes FOR UPDATE.)"""
        ...

    def replace(self, proposal: ProposalRecord, *, expected_status: str) -> bool:
        """Compare-and-set on status: False when the stored status differs, so
        two executors cannot both move the same proposal."""
        ...

    def find(
        self,
        *,
        tenant_id: str | None = None,
        status: str | None = None,
        command_type: str | None = None,
        limit: int = 100,
    ) -> list[ProposalRecord]: ...

    def due_for_expiry(self, now: datetime, limit: int = 500) -> list[ProposalRecord]:
        """Pending proposals whose approval window has closed, claimed like
        `claim` does; where jobs run concurrently (PostgreSQL), one another
        job holds is skipped (SKIP LOCKED), to be expired by a later sweep."""
        ...

    def add_event(self, event: ProposalEvent) -> ProposalEvent:
        """Append to the proposal's lifecycle stream; the store numbers it
        (`seq` as given is ignored) and returns it as stored."""
        ...

    def add_first_events(self, events: Sequence[ProposalEvent]) -> list[ProposalEvent]:
        """The first entries of one proposal's lifecycle stream, numbered 1, 2,
        … in the order given, in one statement; returned as stored. Only for
        a proposal recorded in this transaction (nobody else knows its id
        yet, so it has no entries): a seq already taken raises
        `DuplicateRecord`."""
        ...

    def events(self, proposal_id: str) -> list[ProposalEvent]: ...

    def add_decision(self, decision: DecisionRecord) -> None: ...

    def decisions(self, proposal_id: str) -> list[DecisionRecord]: ...

    def add_vote(self, vote: Vote) -> None:
        """Raises `DuplicateVote` when this voter already voted."""
        ...

    def votes(self, proposal_id: str) -> list[Vote]: ...

    def by_correlation(self, correlation_id: str, limit: int = 500) -> list[ProposalRecord]:
        """Proposals sharing a correlation id, oldest first, for the trace."""
        ...

    def by_command(self, command_id: str, tenant_id: str) -> ProposalRecord | None:
        """The proposal whose command is `command_id`, in `tenant_id`."""
        ...

    def decided_since(
        self, since: datetime, *, tenant_id: str | None = None, after: str | None = None,
        limit: int = 1000,
    ) -> list[tuple[ProposalRecord, DecisionRecord]]:
        """Proposals made at or after `since` (oldest first, then by id) with
        their first decision, a page at a time: `after` is the last
        proposal id of the previous page (ids break ties of one instant)."""
        ...

    def unlogged_events(self, limit: int = 10) -> list[tuple[str, str]]:
        """(proposal_id, event_id) for event ids a proposal names that the
        event log does not hold. One pass over the proposals that name events,
        for `audit verify`: an executed proposal outlives a deleted event."""
        ...


class Outbox(Protocol):
    def add(self, messages: Sequence[OutboxMessage]) -> None: ...

    def find(
        self, *, status: str | None = None, correlation_id: str | None = None, limit: int = 100
    ) -> list[OutboxMessage]: ...

    def counts(self) -> dict[str, int]: ...

    # -- leases: what a relay uses so that two relays never publish one row
    # at the same time, and rows of one aggregate go out in order.

    def claim(
        self, owner: str, now: datetime, lease_until: datetime, limit: int,
        leave: Collection[str] = (),
    ) -> list[OutboxMessage]:
        """Lease up to `limit` due pending rows to `owner` until `lease_until`,
        in position order. A row is due when its next attempt is not in the
        future and it is not leased to another owner (or that lease expired;
        rows leased to `owner` itself are taken back). A row whose aggregate
        has an earlier pending row that is not claimable, or an earlier dead
        row, is never claimed: each aggregate's rows go out in order, and a
        dead row holds its aggregate back until it is retried. Rows that
        cannot go, however many, never keep the due rows behind them from
        being found (an adapter may stop looking further once it has one).
        Rows of the topics in `leave` are left for another relay (one that
        has their consumer): never claimed, and they hold their aggregate back."""
        ...

    def complete(self, owner: str, message_id: str, at: datetime) -> bool:
        """Mark a row `owner` holds as published and drop the lease; False when
        `owner` no longer holds it (its lease expired and another took it)."""
        ...

    def complete_many(self, owner: str, message_ids: Sequence[str], at: datetime) -> int:
        """`complete` for each row, in one statement: how many of them `owner`
        still held (and are now published)."""
        ...

    def fail(
        self,
        owner: str,
        message_id: str,
        error: str,
        next_attempt_at: datetime | None,
        *,
        dead: bool,
    ) -> bool:
        """Count a failed attempt of a row `owner` holds and drop the lease:
        pending again from `next_attempt_at`, or dead. False when not held."""
        ...

    def release(self, owner: str, message_ids: Sequence[str]) -> None:
        """Drop `owner`'s leases on these rows without counting an attempt."""
        ...

    def retry(self, message_id: str) -> OutboxMessage | None:
        """Put a dead row back to pending, due now, with a fresh attempt
        budget (its last error is kept). None when no dead row has this id."""
        ...

    def get(self, message_id: str) -> OutboxMessage | None: ...

    def by_causation(self, causation_id: str, limit: int = 500) -> list[OutboxMessage]: ...

    def published_at(self, message_ids: Sequence[str]) -> dict[str, datetime]: ...

    def in_flight(self, now: datetime) -> int:
        """Pending rows under an unexpired lease: being published right now."""
        ...

    def unlogged_events(self, limit: int = 10) -> list[tuple[str, int]]:
        """(message_id, position) of rows carrying a committed event (the
        message id is the event id) that the log does not hold at that
        position with that hash, lowest position first. One pass, for
        `audit verify`: the outbox row outlives a deleted or rewritten event."""
        ...


class Inbox(Protocol):
    def record(self, consumer: str, message_id: str, at: datetime) -> bool:
        """True the first time; False when this consumer already handled it."""
        ...

    def handled(self, message_ids: Sequence[str]) -> list[tuple[str, str, datetime]]:
        """(consumer, message_id, processed_at) of these messages, for the trace."""
        ...


class Checkpoints(Protocol):
    def get(self, name: str) -> int: ...

    def set(self, name: str, position: int) -> None: ...

    def all(self) -> dict[str, int]:
        """Every checkpoint by name: none may be past the log's head."""
        ...


# (key, doc, index, search text): one document as `put_many` writes it.
DocumentRow = tuple[str, Mapping[str, Any], str | None, str | None]


class DocumentWriter(Protocol):
    def get(self, key: str) -> dict[str, Any] | None: ...

    def put(
        self, key: str, doc: Mapping[str, Any], index: str | None = None, *,
        text: str | None = None,
    ) -> None:
        """Store `doc` under `key`, found by `ReadModels.search` through
        `text`: every put replaces the text, and None takes it out of search."""
        ...

    def delete(self, key: str) -> None:
        """Remove the document, and its text from search."""
        ...

    def get_many(self, keys: Collection[str]) -> dict[str, dict[str, Any]]:
        """The documents of those `keys` that exist, read in one go: the
        projector reads a whole page's documents at once."""
        ...

    def put_many(self, docs: Sequence[DocumentRow]) -> None:
        """`put` for each (key, doc, index, text), written in one go."""
        ...

    def delete_many(self, keys: Collection[str]) -> None: ...


class ReadModels(Protocol):
    """Projection documents, by projection, tenant and key, in generations so
    a rebuild can fill a fresh one and swap it in atomically."""

    def writer(
        self, tenant_id: str, projection: str, generation: int | None = None
    ) -> DocumentWriter: ...

    def get(self, tenant_id: str, projection: str, key: str) -> dict[str, Any] | None: ...

    def find(
        self, tenant_id: str, projection: str, *, index: str | None = None, limit: int = 100
    ) -> list[dict[str, Any]]: ...

    def search(
        self, tenant_id: str, projection: str, query: str, limit: int
    ) -> list[tuple[str, dict[str, Any], float]]:
        """(key, doc, score) of the active generation's documents whose text
        has any word of `query`, best first (a higher score is a better
        match). `query` is plain words (`store.search_terms`), never query
        syntax: nothing in it can fail the search. A query without words
        finds nothing."""
        ...

    def begin_generation(self, projection: str) -> int: ...

    def activate(self, projection: str, generation: int, *, check_only: bool = False) -> None:
        """Make `generation` the live one and drop the documents of older
        generations. Raises GenerationSuperseded (writing nothing) unless it is
        the latest generation begun: a newer rebuild is filling that one. With
        `check_only`, only that check: a rebuild makes it before each write so
        a superseded one stops early."""
        ...


class RuntimeLog(Protocol):
    def append(self, entries: Sequence[RuntimeEntry]) -> None: ...

    def find(
        self,
        *,
        run_id: str | None = None,
        correlation_id: str | None = None,
        proposal_id: str | None = None,
        limit: int = 500,
    ) -> list[RuntimeEntry]: ...


class ConsoleSessions(Protocol):
    """Web console sessions, by the sha256 of their id. In the database, not
    in a cookie, so sign-out and revocation hold for every console process.
    Whether a live session has gone idle or grown too old is the console's
    rule; here a session is live until revoked (or pruned)."""

    def create(self, session: ConsoleSession) -> None:
        """Raises `DuplicateRecord` when the hash is taken."""
        ...

    def get(self, session_hash: str) -> ConsoleSession | None: ...

    def touch(self, session_hash: str, at: datetime) -> bool:
        """Record activity at `at`; False (writing nothing) unless the
        session exists and is not revoked."""
        ...

    def set_state(self, session_hash: str, state: Mapping[str, Any]) -> bool:
        """Replace the console's state of a live session; False otherwise."""
        ...

    def revoke(self, session_hash: str, at: datetime, reason: str) -> bool:
        """End the session; False when it is missing or already revoked
        (the first revocation's time and reason stay)."""
        ...

    def revoke_principal(self, principal_id: str, at: datetime, reason: str) -> int:
        """End every live session of this principal; how many were ended."""
        ...

    def prune(self, last_seen_before: datetime) -> int:
        """Delete sessions (revoked or not) last seen before the given time:
        they can no longer be valid. How many were deleted."""
        ...


class RateCounters(Protocol):
    """How many proposals each principal has made, across all its tenants:
    per run, and over the last hour. Kept, not counted: the service adds one
    in the transaction that records each proposal, and a read costs the same
    whatever the history."""

    def add(self, principal_id: str, run_id: str | None, at: datetime) -> None:
        """Count one proposal made at `at` (run_id None: without a run id)."""
        ...

    def in_run(self, principal_id: str, run_id: str | None) -> int:
        """Proposals the principal made in this run; None reads those it made
        without a run id, which count as one run."""
        ...

    def last_hour(self, principal_id: str, now: datetime) -> int:
        """Proposals the principal made from the start of the minute one hour
        before `now`'s minute on: each counts for at least an hour, and for
        less than 61 minutes."""
        ...

    def counts(self, principal_id: str, run_id: str | None, now: datetime) -> tuple[int, int]:
        """(`in_run`, `last_hour`) read together, as one command needs them."""
        ...


class UnitOfWork(Protocol):
    """Everything one transaction can touch. Obtained only inside
    `Store.write`/`Store.read`; it commits or rolls back as a whole, and
    `savepoint()` lets a part of it roll back alone."""

    @property
    def events(self) -> EventLog: ...

    @property
    def proposals(self) -> Proposals: ...

    @property
    def outbox(self) -> Outbox: ...

    @property
    def inbox(self) -> Inbox: ...

    @property
    def checkpoints(self) -> Checkpoints: ...

    @property
    def read_models(self) -> ReadModels: ...

    @property
    def runtime(self) -> RuntimeLog: ...

    @property
    def rates(self) -> RateCounters: ...

    @property
    def console_sessions(self) -> ConsoleSessions: ...

    def savepoint(self) -> AbstractContextManager[None]:
        """Undo everything written inside the block if it raises."""
        ...


class Changes(Protocol):
    """One consumer's view of "something was committed": new events, new
    outbox rows or rows due again, proposals made or changed. What relays,
    projectors and live pages wait on between passes instead of a fixed sleep.

    Adapters tell of commits only as far as they can see them (SQLite: this
    process's; PostgreSQL: every process's, through LISTEN/NOTIFY, unless the
    listening connection is lost). A consumer keeps a catch-up poll, the
    `seconds` it waits at most, and treats a wake as a hint: it reads the
    store either way."""

    async def wait(self, seconds: float) -> bool:
        """Return True as soon as such a commit has happened since this
        object last returned (or was made), False after `seconds`."""
        ...


class Store(Protocol):
    def changes(self) -> Changes:
        """A fresh waiter on the commits this store can tell of."""
        ...

    def write(self, fn: Callable[[UnitOfWork], T]) -> Awaitable[T]:
        """Run `fn` in one write transaction on the writer; commit if it
        returns, roll back (only its own work) if it raises. An adapter may
        run `fn` again after rolling it back (PostgreSQL does, for a
        deadlock or serialization victim), so `fn` keeps in memory nothing
        the caller trusts before the write has returned."""
        ...

    def read(self, fn: Callable[[UnitOfWork], T]) -> Awaitable[T]:
        """Run `fn` against one consistent snapshot. Writing inside is an error."""
        ...

    async def close(self) -> None: ...
