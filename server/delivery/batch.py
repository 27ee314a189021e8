"""What one relay pass claimed, what became of each row, and how it is
settled: in one transaction, and counted only as far as this relay still
held the rows (a row whose lease ran out belongs to the relay that took it
over, and is counted there)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from signoff.store.ports import UnitOfWork

# (message id, error, next attempt or None when dead, dead)
Plan = tuple[str, str, datetime | None, bool]


@dataclass
class PassResult:
    """Rows of one pass (or several, `add`ed), each counted once as what this
    relay settled it as: published, retrying, dead, deferred (claimed but not
    attempted: an earlier row of the aggregate failed, or the lease was
    running out), or lost (its lease ran out before this relay settled it;
    another relay took it over)."""

    claimed: int = 0
    published: int = 0
    retrying: int = 0
    dead: int = 0
    deferred: int = 0
    lost: int = 0

    def add(self, other: PassResult) -> None:
        for name in ("claimed", "published", "retrying", "dead", "deferred", "lost"):
            setattr(self, name, getattr(self, name) + getattr(other, name))


@dataclass
class Batch:
    deadline: datetime  # no publish starts at or after this
    ok: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    deferred: list[str] = field(default_factory=list)
    out_of_time: int = 0  # of the deferred: put back because the lease was running out
    by_sink: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))


def settle(uow: UnitOfWork, owner: str, claimed: int, batch: Batch, plans: list[Plan],
           now: datetime) -> tuple[PassResult, list[str]]:
    """Mark the batch's rows published, failed (retrying or dead) or released;
    returns the counts and the ids of the rows that are dead now."""
    result = PassResult(claimed=claimed, deferred=len(batch.deferred))
    dead_ids = []
    result.published = uow.outbox.complete_many(owner, batch.ok, now)
    result.lost = len(batch.ok) - result.published
    for message_id, error, next_at, dead in plans:
        if not uow.outbox.fail(owner, message_id, error, next_at, dead=dead):
            result.lost += 1
        elif dead:
            result.dead += 1
            dead_ids.append(message_id)
        else:
            result.retrying += 1
    uow.outbox.release(owner, batch.deferred)
    return result, dead_ids
