"""Row helpers every SQLite repository shares: timestamps, event rows, JSON
documents and WHERE clauses.

Records are kept as their JSON (`doc`) beside the columns that are searched,
so reading one back is a single `model_validate_json`. Events are the
exception: they are stored column by column (they are what people query and
what the hash chain covers) and rebuilt without re-validation, because they
were validated on the way in and replay speed depends on it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from signoff.store.records import EventEnvelope

EVENT_COLUMNS = (
    "position", "event_id", "tenant_id", "aggregate_type", "aggregate_id", "aggregate_version",
    "event_type", "event_version", "correlation_id", "causation_id", "run_id", "thread_id",
    "actor_type", "actor_id", "payload_schema", "payload", "occurred_at", "prev_hash", "hash",
)
SELECT_EVENTS = f"SELECT {', '.join(EVENT_COLUMNS)} FROM events"  # noqa: S608 - constant


def ts(value: datetime) -> str:
    """A timestamp column that is compared or sorted in SQL: UTC at fixed
    width, so text order is time order whatever offset the caller used."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat(timespec="microseconds")


def ts_or_none(value: datetime | None) -> str | None:
    return ts(value) if value is not None else None


def event_row(e: EventEnvelope) -> tuple[Any, ...]:
    """The event's values in EVENT_COLUMNS order."""
    return (
        e.position, e.event_id, e.tenant_id, e.aggregate_type, e.aggregate_id,
        e.aggregate_version, e.event_type, e.event_version, e.correlation_id,
        e.causation_id, e.run_id, e.thread_id, e.actor_type, e.actor_id,
        e.payload_schema, json.dumps(e.payload, separators=(",", ":")),
        e.occurred_at.isoformat(), e.prev_hash, e.hash,
    )


# Every field of an event is a column, so every event read back sets them
# all: a copy of one constructed envelope with the row's values is the
# envelope `model_construct` would build, without its per-field Python,
# which was most of a replay's decoding time (issue 13).
_NONE: dict[str, Any] = dict.fromkeys(EVENT_COLUMNS)
_BLANK_EVENT = EventEnvelope.model_construct(**_NONE)


def row_to_event(row: Sequence[Any]) -> EventEnvelope:
    fields = dict(zip(EVENT_COLUMNS, row, strict=True))
    fields["payload"] = json.loads(fields["payload"])
    fields["occurred_at"] = datetime.fromisoformat(fields["occurred_at"])
    return _BLANK_EVENT.model_copy(update=fields)


def filters(joiner: str = " AND ", **columns: str | None) -> tuple[str, list[str]]:
    """A WHERE clause over the given columns that are not None. Column names
    come from our own keyword arguments, never from input."""
    used = {name: value for name, value in columns.items() if value is not None}
    if not used:
        return "", []
    return "WHERE " + joiner.join(f"{name} = ?" for name in used), list(used.values())


def marks(values: Sequence[object]) -> str:
    """`?, ?, ?`: one placeholder per value, for an IN (...) list."""
    return ", ".join("?" * len(values))


def loads_doc(text: str) -> dict[str, Any]:
    value = json.loads(text)
    assert isinstance(value, dict)
    return value


def dumps_doc(doc: Mapping[str, Any]) -> str:
    return json.dumps(doc, separators=(",", ":"), sort_keys=True, default=str)
