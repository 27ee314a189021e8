"""Running a domain query for a principal: validated, tenant-scoped, read-only.

Queries run on a read snapshot, so they cannot write domain state; the answer
says which position of the event log it reflects and how far behind it is.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from pydantic import ValidationError

from signoff.policies import PrincipalFacts
from signoff.server.domain import Domain, QueryNotFound, QueryResult, QueryType, SearchHit
from signoff.server.errors import Forbidden, InvalidInput, NotFound
from signoff.server.services.proposals import problems_of
from signoff.server.services.text import nul_at
from signoff.server.state.aggregates import Upcaster
from signoff.server.state.projector import checkpoint_name
from signoff.store.ports import Store, UnitOfWork
from signoff.store.records import EventEnvelope

MayQuery = Callable[[PrincipalFacts, str], bool]


class TxReader:
    """`ReadModelReader` over one read snapshot, scoped to one tenant."""

    def __init__(self, uow: UnitOfWork, tenant_id: str, upcaster: Upcaster) -> None:
        self._uow = uow
        self._tenant_id = tenant_id
        self._upcaster = upcaster
        self.projections_read: set[str] = set()  # for the answer's freshness

    @property
    def tenant_id(self) -> str:
        return self._tenant_id

    def get(self, projection: str, key: str) -> dict[str, Any] | None:
        self.projections_read.add(projection)
        return self._uow.read_models.get(self._tenant_id, projection, key)

    def find(
        self, projection: str, *, index: str | None = None, limit: int = 100
    ) -> list[dict[str, Any]]:
        self.projections_read.add(projection)
        return self._uow.read_models.find(self._tenant_id, projection, index=index, limit=limit)

    def search(self, projection: str, query: str, *, limit: int = 10) -> list[SearchHit]:
        self.projections_read.add(projection)
        found = self._uow.read_models.search(self._tenant_id, projection, query, limit)
        return [SearchHit(key, doc, score) for key, doc, score in found]

    def recent_events(
        self, aggregate_type: str, aggregate_id: str, limit: int = 10
    ) -> list[EventEnvelope]:
        events = self._uow.events.recent(self._tenant_id, aggregate_type, aggregate_id, limit)
        return [self._upcaster.upcast(e) for e in events]


class QueryService:
    def __init__(
        self, store: Store, domain: Domain, upcaster: Upcaster, may_query: MayQuery
    ) -> None:
        self._store = store
        self._queries = {q.name: q for q in domain.queries}
        self._upcaster = upcaster
        self._may_query = may_query
        self._async = frozenset(p.name for p in domain.projections if p.mode == "async")

    def spec(self, name: str) -> QueryType[Any, Any] | None:
        return self._queries.get(name)

    async def run(
        self, principal: PrincipalFacts, name: str, arguments: Mapping[str, Any]
    ) -> QueryResult:
        spec = self._queries.get(name)
        if spec is None:
            raise NotFound(f"unknown query {name!r}")
        if not self._may_query(principal, name):
            raise Forbidden(f"{principal.id} may not call {name}")
        if (where := nul_at(arguments)) is not None:
            raise InvalidInput("invalid arguments", details=[
                {"field": where, "problem": "contains a NUL character"}])
        try:
            args = spec.args.model_validate(dict(arguments))
        except ValidationError as exc:
            raise InvalidInput("invalid arguments", details=[
                p.model_dump() for p in problems_of(exc)]) from exc

        def read(uow: UnitOfWork) -> QueryResult:
            reader = TxReader(uow, principal.tenant, self._upcaster)
            result: QueryResult = spec.run(reader, args)
            # Inline projections commit with the events: they are at the head.
            # An async one is as fresh as its checkpoint; the answer is as
            # fresh as the stalest projection it read.
            head = uow.events.head()
            as_of = min((uow.checkpoints.get(checkpoint_name(p))
                         for p in reader.projections_read & self._async), default=head)
            return result.model_copy(update={"as_of_position": as_of, "lag": head - as_of})

        try:
            return await self._store.read(read)
        except QueryNotFound as exc:
            raise NotFound(str(exc)) from exc
