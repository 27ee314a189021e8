"""What `db copy` moves, table by table: which SQLite columns go into which
PostgreSQL columns, and what PostgreSQL keeps that SQLite does not.

Values are copied as they are stored, never re-encoded: an event's columns
(its position, hash and prev_hash among them) and every record's JSON text
are the same bytes on both sides, so the hash chain holds unchanged. What
PostgreSQL adds is derived from the row itself:

- `seq` (proposals, decisions, votes, runtime log) numbers rows in the order
  they were written, which SQLite's `rowid` is: the rowid is copied into it;
- a proposal's `event_ids` come from its document;
- an outbox row's ordering group and the event it carries come from its
  document, by the rules `store.postgres.outbox` fills them with.

SQLite's full-text index is not copied either: PostgreSQL indexes the
documents' search texts itself.

Outbox leases are not copied: no relay of the old database holds one any
more, and a lease copied over would hold its row back until it expired.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from signoff.store.sqlite.outbox import ordering_group
from signoff.store.sqlite.rows import EVENT_COLUMNS

Row = tuple[Any, ...]


@dataclass(frozen=True)
class Table:
    """One table: `source` selected from SQLite in `order`, copied into
    `target` (the same columns, then those `derive` adds). `identity` is the
    PostgreSQL identity column that must continue after the copied rows."""

    name: str
    source: tuple[str, ...]
    order: str
    target: tuple[str, ...] = ()
    derive: Callable[[Row], Row] | None = None
    identity: str | None = None

    @property
    def columns(self) -> tuple[str, ...]:
        """The PostgreSQL columns, in the order rows are written."""
        return self.target or self.source

    def select(self) -> str:
        return f"SELECT {', '.join(self.source)} FROM {self.name} ORDER BY {self.order}"  # noqa: S608

    def row(self, found: Row) -> Row:
        return found + self.derive(found) if self.derive else found


_PROPOSAL = ("proposal_id", "tenant_id", "status", "command_type", "actor_id", "run_id",
             "command_id", "correlation_id", "idempotency_key", "created_at", "expires_at",
             "doc")
_OUTBOX = ("position", "message_id", "tenant_id", "topic", "aggregate_id", "correlation_id",
           "causation_id", "status", "attempts", "next_attempt_at", "last_error",
           "published_at", "doc")


def _event_ids(row: Row) -> Row:
    """A proposal's `event_ids`, from its document (the last column)."""
    return (list(json.loads(row[-1]).get("event_ids") or []),)


def _carried(row: Row) -> Row:
    """An outbox row's ordering group, and the position and hash of the event
    it carries (its payload is an event whose id is the message id)."""
    message_id, tenant_id, topic, doc = row[1], row[2], row[3], row[-1]
    group = ordering_group(topic, tenant_id, doc)
    payload = json.loads(doc).get("payload")
    payload = payload if isinstance(payload, dict) else {}
    carried = payload.get("event_id") == message_id
    return (
        group[1] if group else None,
        int(payload.get("position") or 0) if carried else None,
        str(payload.get("hash") or "") if carried else None,
    )


def _with_seq(columns: tuple[str, ...]) -> tuple[str, ...]:
    return ("seq", *columns)


TABLES: tuple[Table, ...] = (
    Table("events", EVENT_COLUMNS, "position"),
    Table("proposals", ("rowid", *_PROPOSAL), "rowid",
          target=(*_with_seq(_PROPOSAL), "event_ids"), derive=_event_ids, identity="seq"),
    Table("proposal_events", ("proposal_id", "seq", "tenant_id", "doc"), "proposal_id, seq"),
    Table("decisions", ("rowid", "decision_id", "proposal_id", "tenant_id", "doc"), "rowid",
          target=_with_seq(("decision_id", "proposal_id", "tenant_id", "doc")),
          identity="seq"),
    Table("votes", ("rowid", "vote_id", "proposal_id", "tenant_id", "voter_id", "doc"), "rowid",
          target=_with_seq(("vote_id", "proposal_id", "tenant_id", "voter_id", "doc")),
          identity="seq"),
    Table("outbox", _OUTBOX, "position",
          target=(*_OUTBOX, "order_group", "event_position", "event_hash"), derive=_carried,
          identity="position"),
    Table("inbox", ("consumer", "message_id", "processed_at"), "consumer, message_id"),
    Table("checkpoints", ("name", "position"), "name"),
    Table("read_models",
          ("projection", "generation", "tenant_id", "key", "ix", "doc", "search_text"),
          "projection, generation, tenant_id, key"),
    Table("projection_generations", ("projection", "active", "latest"), "projection"),
    Table("runtime_log",
          ("rowid", "entry_id", "tenant_id", "run_id", "correlation_id", "proposal_id", "doc"),
          "rowid",
          target=_with_seq(("entry_id", "tenant_id", "run_id", "correlation_id", "proposal_id",
                            "doc")),
          identity="seq"),
    Table("console_sessions",
          ("session_hash", "principal_id", "credential", "created_at", "last_seen_at",
           "revoked_at", "revoked_reason", "state"), "session_hash"),
    Table("proposal_counts_by_run", ("principal_id", "run_id", "proposals"),
          "principal_id, run_id"),
    Table("proposal_counts_by_minute", ("principal_id", "minute", "proposals"),
          "principal_id, minute"),
)
NAMES = tuple(t.name for t in TABLES)
# SQLite's full-text index of the documents' search texts (FTS5 and its
# shadow tables): derived from the copied `search_text`, which PostgreSQL
# indexes itself, so nothing of it is copied.
INDEXES = tuple(f"read_models_search{part}"
                for part in ("", "_data", "_idx", "_docsize", "_config"))
