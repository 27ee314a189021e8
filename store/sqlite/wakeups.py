"""How the SQLite writer notices that a job wrote something readers wait for.

TEMP triggers on the writer's connection (so nothing in the database file
changes, and other connections pay nothing) call back into Python when a
statement adds events, proposal lifecycle entries, proposals or outbox rows,
changes a proposal, or makes an outbox row claimable again (retried, or its
lease given back). The writer keeps the mark per job, forgets the marks of
jobs that rolled back, and signals the store's `Wakeups` after the commit.

A SQLite file shared by several processes cannot tell one process of
another's commits: their consumers find those by polling.
"""

from __future__ import annotations

import sqlite3

__all__ = ["Noticed", "install"]

_FUNCTION = "signoff_noticed"
_TRIGGERS = {
    "events": "AFTER INSERT ON main.events",
    "proposal_events": "AFTER INSERT ON main.proposal_events",
    "proposals_added": "AFTER INSERT ON main.proposals",
    "proposals_changed": "AFTER UPDATE ON main.proposals",
    "outbox_added": "AFTER INSERT ON main.outbox",
    # Back to pending from dead (retry), or a lease given back without an
    # attempt counted (release): claimable now. A failed attempt, due later,
    # is found by the relays' poll.
    "outbox_due": "AFTER UPDATE OF status, lease_owner ON main.outbox WHEN NEW.status = "
    "'pending' AND (OLD.status <> 'pending' OR (OLD.lease_owner IS NOT NULL AND "
    "NEW.lease_owner IS NULL AND NEW.attempts = OLD.attempts))",
}


class Noticed:
    """Whether the writer's open transaction wrote something readers wait
    for. Only the writer thread touches it."""

    def __init__(self) -> None:
        self.value = False

    def mark(self) -> None:  # called by SQLite, inside a statement: never raises
        self.value = True

    def take(self) -> bool:
        value, self.value = self.value, False
        return value


def install(conn: sqlite3.Connection, noticed: Noticed) -> None:
    """Make `conn`'s writes mark `noticed` (after the schema is migrated)."""
    conn.create_function(_FUNCTION, 0, noticed.mark)
    for name, when in _TRIGGERS.items():
        conn.execute(f"CREATE TEMP TRIGGER IF NOT EXISTS signoff_wake_{name} {when} "
                     f"BEGIN SELECT {_FUNCTION}(); END")
