"""Checking the event log's hash chain end to end."""

from __future__ import annotations

from dataclasses import dataclass

from signoff.store.canonical import event_hash
from signoff.store.ports import UnitOfWork

BATCH = 5000


@dataclass(frozen=True)
class ChainReport:
    checked: int
    head: int
    broken_at: int | None = None
    problem: str = ""

    @property
    def ok(self) -> bool:
        return self.broken_at is None


def verify_chain(uow: UnitOfWork) -> ChainReport:
    """Walk every event in order: positions without gaps, each prev_hash the
    hash of the one before, each hash the hash of its own content. Stops at
    the first break: everything after it is unverifiable anyway."""
    previous, expected, checked = "", 1, 0
    while True:
        events = uow.events.read_after(expected - 1, BATCH)
        if not events:
            return ChainReport(checked=checked, head=expected - 1)
        for event in events:
            problem = ""
            if event.position != expected:
                problem = f"position {expected} is missing (next is {event.position})"
            elif event.prev_hash != previous:
                problem = "prev_hash does not match the previous event's hash"
            elif event_hash(event) != event.hash:
                problem = "content does not match its hash (the event was edited)"
            if problem:
                return ChainReport(checked=checked, head=uow.events.head(),
                                   broken_at=expected, problem=problem)
            previous, expected, checked = event.hash, expected + 1, checked + 1
