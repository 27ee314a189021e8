"""Loading a domain's demo data into an empty store, as the system actor."""

from __future__ import annotations

from itertools import groupby

from signoff.server.domain import Domain, SeedEvent
from signoff.server.state.committer import Causation, Committer
from signoff.store.ports import Store, UnitOfWork
from signoff.store.records import Actor

SEEDER = Actor(id="system:seed", kind="system")


async def seed_if_empty(store: Store, domain: Domain, committer: Committer) -> int:
    """Append the domain's seed events if the event log is empty; returns how
    many were appended (0 when there was data already or nothing to seed)."""
    if domain.seed is None:
        return 0
    seed = list(domain.seed())

    def write(uow: UnitOfWork) -> int:
        if uow.events.head() > 0:
            return 0
        return _append(uow, seed, committer)

    return await store.write(write)


def _append(uow: UnitOfWork, seed: list[SeedEvent], committer: Committer) -> int:
    count = 0
    versions: dict[tuple[str, str, str], int] = {}
    causation = Causation(actor=SEEDER, correlation_id="seed")
    # Consecutive events of one aggregate go in together, in the seed's order.
    for (tenant, name, aggregate_id), group in groupby(
        seed, key=lambda s: (s.tenant_id, s.aggregate.name, s.aggregate_id)
    ):
        events = [s.event for s in group]
        key = (tenant, name, aggregate_id)
        base = versions.get(key, 0)
        committer.commit(
            uow, tenant_id=tenant, aggregate_type=name, aggregate_id=aggregate_id,
            base_version=base, events=events, causation=causation,
        )
        versions[key] = base + len(events)
        count += len(events)
    return count
