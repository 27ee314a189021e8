"""The API a user declares their domain with.

A domain is plain data handed to the composition root: aggregate types (state
folded from events), command types (payload model + a pure `decide`), queries
over read models, projections that build those read models, and upcasters for
old event versions. Nothing here touches storage or the wire; the services in
this package drive it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Generic, Literal, Protocol, TypeVar

from pydantic import BaseModel, Field

from signoff.server.errors import SignoffError
from signoff.store.records import Actor, EventEnvelope

S = TypeVar("S")
T = TypeVar("T")
P = TypeVar("P", bound=BaseModel)
A = TypeVar("A", bound=BaseModel)
R = TypeVar("R", bound="QueryResult")


class DomainError(SignoffError):
    """A domain definition is inconsistent (raised when a Domain is built)."""


@dataclass(frozen=True)
class NewEvent:
    """An event a handler decided on. The executor stamps ids, versions, time
    and the hash chain; the handler says only what happened."""

    type: str
    payload: Mapping[str, Any]
    version: int = 1


@dataclass(frozen=True)
class Rejection:
    """A handler's refusal: the command is not valid in the current state."""

    reason: str


@dataclass(frozen=True)
class AggregateType(Generic[S]):
    """An aggregate's state is `apply` folded over its stream, from `initial()`.
    `facts` is what the policy gate may see of it (`aggregate.fields`) and
    `status` its lifecycle state (`aggregate.status`)."""

    name: str
    initial: Callable[[], S]
    apply: Callable[[S, EventEnvelope], S]
    status: Callable[[S], str | None] = lambda _s: None
    facts: Callable[[S], dict[str, Any]] = lambda _s: {}


class StateLoader(Protocol):
    """Read-only access to other aggregates' current state while deciding."""

    def load(self, aggregate: AggregateType[T], aggregate_id: str) -> Loaded[T]: ...


@dataclass(frozen=True)
class Loaded(Generic[T]):
    state: T
    version: int

    @property
    def exists(self) -> bool:
        return self.version > 0


@dataclass(frozen=True)
class DecideContext:
    """What a handler may know besides state and payload: who, which aggregate,
    when, and a loader for other aggregates. Deterministic by construction."""

    tenant_id: str
    actor: Actor
    aggregate_id: str
    now: datetime
    loader: StateLoader


@dataclass(frozen=True)
class CommandType(Generic[P, S]):
    """A command an agent may propose through the tool `tool`.

    `target` names the aggregate the command acts on from its payload; None
    means the command creates a new aggregate whose id the id factory makes.
    `requires_version` adds `expected_version` to the tool's arguments.

    An `external` command's events record the decision, not the effect: the
    effect happens outside signoff (an upstream tool call), through an outbox
    consumer that later settles the proposal, which waits as `executing`.
    `input_schema` is the payload's JSON Schema when the payload model does
    not describe it itself (a gateway tool's pinned schema). `pinned` is a
    digest of what the command stands for beyond its payload (the pinned
    tool's): the digest reviewers vote on covers it, and a command whose
    `pinned` changed since the proposal is not executed.

    What a reviewer reads first: `summary` says in one line what the
    command would do (from its payload: the queue shows it), and
    `review_fields` names the fields they must see on the proposal, looked
    up in the payload, else in the aggregate's state after the change (a
    notice approval's payload names the draft; its body is in the state).
    """

    name: str
    tool: str
    payload: type[P]
    aggregate: AggregateType[S]
    decide: Callable[[S, P, DecideContext], Sequence[NewEvent] | Rejection]
    description: str
    target: Callable[[P], str] | None = None
    requires_version: bool = False
    version: int = 1
    external: bool = False
    input_schema: Mapping[str, Any] | None = None
    pinned: str | None = None
    summary: Callable[[P], str] | None = None
    review_fields: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.requires_version and self.target is None:
            raise DomainError(f"{self.name}: a creating command cannot require a version")


class QueryResult(BaseModel):
    """Every query answer says how fresh it is and what the agent may cite."""

    as_of_position: int = 0
    lag: int = 0
    source_refs: list[str] = Field(default_factory=list)


class ReadModelWriter(Protocol):
    """One projection's documents in one tenant, inside the committing
    transaction."""

    def get(self, key: str) -> dict[str, Any] | None: ...

    def put(
        self,
        key: str,
        doc: Mapping[str, Any],
        index: str | None = None,
        *,
        text: str | None = None,
    ) -> None:
        """Store `doc` under `key`. `text`, when given, is what full-text
        search (`ReadModelReader.search`) finds the document by; every put
        replaces it, and None takes the document out of search."""
        ...

    def delete(self, key: str) -> None:
        """Remove the document and its search text."""
        ...


@dataclass(frozen=True)
class SearchHit:
    """One full-text search result: the document, its key, and its score
    (higher is a better match; comparable only within one answer)."""

    key: str
    doc: dict[str, Any]
    score: float


class ReadModelReader(Protocol):
    """A tenant-scoped, read-only view of the read models for queries."""

    @property
    def tenant_id(self) -> str: ...

    def get(self, projection: str, key: str) -> dict[str, Any] | None: ...

    def find(
        self, projection: str, *, index: str | None = None, limit: int = 100
    ) -> list[dict[str, Any]]: ...

    def search(self, projection: str, query: str, *, limit: int = 10) -> list[SearchHit]:
        """The projection's documents whose search text matches any word of
        `query`, best first (BM25 on SQLite, ts_rank_cd on PostgreSQL).
        `query` is plain words from a user or a model, never a query
        language: operators and quotes in it are words like any other. A
        blank query finds nothing."""
        ...

    def recent_events(
        self, aggregate_type: str, aggregate_id: str, limit: int = 10
    ) -> list[EventEnvelope]: ...


@dataclass(frozen=True)
class Projection:
    """Builds one read model from the events it `handles`. Inline projections
    run in the executor's transaction; async ones catch up from a checkpoint.
    `apply` must be idempotent per event (replays and rebuilds rely on it)."""

    name: str
    handles: frozenset[str]
    apply: Callable[[ReadModelWriter, EventEnvelope], None]
    mode: Literal["inline", "async"] = "inline"


class QueryNotFound(SignoffError):
    """The thing asked for does not exist in the caller's tenant. Raised by
    queries; the caller sees the same answer for 'absent' and 'not yours'."""

    def __init__(self, what: str) -> None:
        super().__init__(f"{what} not found")


@dataclass(frozen=True)
class QueryType(Generic[A, R]):
    name: str
    args: type[A]
    result: type[R]
    run: Callable[[ReadModelReader, A], R]
    description: str


@dataclass(frozen=True)
class SeedEvent:
    """One event of a domain's demo data, appended as the system actor."""

    tenant_id: str
    aggregate: AggregateType[Any]
    aggregate_id: str
    event: NewEvent


Upcaster = Callable[[dict[str, Any]], dict[str, Any]]


@dataclass(frozen=True)
class Citations:
    """What agents may cite in `evidence_refs`, and how a ref is checked.

    - `aggregate`: a ref must name an existing aggregate of this type, else
      the proposal is refused before anything is recorded;
    - `projection`: reviewers see the `title` and `summary` fields of that
      read model's document for the ref (what the system knows, never what
      the agent wrote);
    - neither: refs are free-form text, recorded and shown as the agent's
      claims, unchecked.
    """

    aggregate: AggregateType[Any] | None = None
    projection: str | None = None
    title: str = "title"
    summary: str = "summary"

    @property
    def checked(self) -> bool:
        return self.aggregate is not None


FREE_FORM = Citations()


@dataclass(frozen=True)
class Notification:
    """Deliver each committed event of `topic` exactly once to a JSONL file
    beside the database (`file`), then record the delivery as a committed
    fact: the command `command`, proposed by the service principal
    `principal` through the policy and the executor like any other, with
    the payload `payload(aggregate_id)`."""

    topic: str
    command: str
    payload: Callable[[str], Mapping[str, Any]]
    file: str = "notices.jsonl"
    principal: str = "service:notifier"
    name: str = "notifier"


@dataclass(frozen=True)
class Recorded:
    """What became of a fact a domain's consumer proposed: its receipt's
    status and outcome (`duplicate_accepted` when the key was used before:
    the stored receipt), why, and the events it committed."""

    status: str
    outcome: str
    reason: str = ""
    events: tuple[NewEvent, ...] = ()


class Delivery(Protocol):
    """One committed event handed to a domain's consumer, and what the
    consumer may do about it besides its own effect."""

    @property
    def event(self) -> EventEnvelope: ...

    @property
    def folder(self) -> Path:
        """Where the consumer keeps and finds its files: the database's folder."""
        ...

    async def propose(
        self, command: str, payload: Mapping[str, Any], *, key: str | None = None,
        rationale: str = "",
    ) -> Recorded:
        """Propose `command` as the consumer's service principal, through the
        policy and the executor like any other proposal. `key` (unique within
        this event) makes it idempotent: proposed again for the same event,
        the stored receipt comes back instead of a second fact."""
        ...


@dataclass(frozen=True)
class Consumer:
    """An outbox consumer a domain brings, for an effect outside signoff (an
    HTTP call, a message): `handle` gets each committed event of `topics`,
    at least once — after a crash, the relay delivers it again. Once `handle`
    returns, the consumer's inbox records the event handled and it is not
    given again; when it raises, the relay retries it later, with backoff.
    So `handle` must make a repeat harmless itself, with the facts it records
    (`Delivery.propose`, as `principal`) and the state they fold into.
    It runs inside the relay and gets events unredacted."""

    name: str
    topics: frozenset[str]
    handle: Callable[[Delivery], Awaitable[None]]
    principal: str
    # Seconds one `handle` may take at most (the relay's lease allows for it).
    timeout: float = 60.0


@dataclass(frozen=True)
class Settles:
    """How a person settles one of the domain's outside calls whose outcome
    is unknown (the gateway's started → completed / outcome_unknown protocol),
    so `signoff review resolve` (the `Resolutions` service) works on it as on
    a gateway call: given the proposal that asked for a call of `aggregate`,
    it proposes `command` as the person, with `{id_field: the call's id,
    "outcome": "succeeded" | "failed" | "retry", "reason": ...}`. The policy
    judges it like any proposal, and the command's `decide` refuses unless
    the call's outcome is unknown."""

    aggregate: str
    command: str
    id_field: str


@dataclass(frozen=True)
class Domain:
    """Everything signoff knows about one domain. Registration is explicit."""

    name: str
    aggregates: Sequence[AggregateType[Any]]
    commands: Sequence[CommandType[Any, Any]]
    queries: Sequence[QueryType[Any, Any]] = ()
    projections: Sequence[Projection] = ()
    # Current version of every event type the domain emits.
    event_versions: Mapping[str, int] = field(default_factory=dict)
    # (event_type, from_version) -> payload of from_version + 1.
    upcasters: Mapping[tuple[str, int], Upcaster] = field(default_factory=dict)
    # What agents may cite in evidence_refs (default: free-form claims).
    evidence: Citations = FREE_FORM
    # Outbox consumers the domain's committed events feed.
    notifications: Sequence[Notification] = ()
    # Outbox consumers with effects of the domain's own (an HTTP call).
    consumers: Sequence[Consumer] = ()
    # The commands that settle its outside calls' unknown outcomes.
    settles: Sequence[Settles] = ()
    seed: Callable[[], Sequence[SeedEvent]] | None = None

    def __post_init__(self) -> None:
        names = [c.name for c in self.commands]
        tools = [c.tool for c in self.commands] + [q.name for q in self.queries]
        for what, items in (("command type", names), ("tool", tools)):
            dupes = {n for n in items if items.count(n) > 1}
            if dupes:
                raise DomainError(f"duplicate {what}: {sorted(dupes)}")
        known = {a.name for a in self.aggregates}
        for c in self.commands:
            if c.aggregate.name not in known:
                raise DomainError(f"{c.name}: aggregate {c.aggregate.name!r} is not registered")
        cited = self.evidence.aggregate
        if cited is not None and cited.name not in known:
            raise DomainError(f"evidence: aggregate {cited.name!r} is not registered")
        projections = {p.name for p in self.projections}
        if self.evidence.projection is not None and self.evidence.projection not in projections:
            raise DomainError(f"evidence: projection {self.evidence.projection!r} is not "
                              "registered")
        for n in self.notifications:
            if n.command not in names:
                raise DomainError(f"notification {n.name}: command {n.command!r} is not "
                                  "registered")
        consumers = [n.name for n in self.notifications] + [c.name for c in self.consumers]
        twice = {n for n in consumers if consumers.count(n) > 1}
        if twice:
            raise DomainError(f"duplicate consumer: {sorted(twice)}")
        for settles in self.settles:
            settling = self.command(settles.command)
            if settling is None or settling.aggregate.name != settles.aggregate:
                raise DomainError(f"settles: {settles.command!r} is not a registered command "
                                  f"of aggregate {settles.aggregate!r}")

    def command(self, command_type: str) -> CommandType[Any, Any] | None:
        return next((c for c in self.commands if c.name == command_type), None)

    def command_types(self) -> list[str]:
        return [c.name for c in self.commands]

    def aggregate(self, name: str) -> AggregateType[Any] | None:
        return next((a for a in self.aggregates if a.name == name), None)
