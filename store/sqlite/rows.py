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
# all. The store wrote these rows from validated envelopes, so reading one
# back builds the envelope as `model_construct` would (its `__dict__` in
# field order, every field set, no extra and no private attributes) without
# its per-field Python or a copy: decoding was most of a replay's time, and
# the garbage collector's share of it grows with every object made per row
# (issue 13).
# Every event read back shares this one set of the fields it set: it names
# every field, so the only change pydantic makes to such a set in place
# (adding an assigned field's name, and assignment is refused anyway: the
# record is frozen) changes nothing, and a copy gets a set of its own. One
# object fewer per event for the allocator and the garbage collector.
_ALL_SET = set(EventEnvelope.model_fields)
assert set(EVENT_COLUMNS) == _ALL_SET, "row_to_event must set every field of an event"
_new = object.__new__
_set = object.__setattr__
_loads = json.loads
_instant = datetime.fromisoformat


def row_to_event(row: Sequence[Any]) -> EventEnvelope:
    (position, event_id, tenant_id, aggregate_type, aggregate_id, aggregate_version,
     event_type, event_version, correlation_id, causation_id, run_id, thread_id,
     actor_type, actor_id, payload_schema, payload, occurred_at, prev_hash, hash_) = row
    event = _new(EventEnvelope)
    _set(event, "__dict__", {  # in the envelope's field order, as model_construct has it
        "event_id": event_id, "event_type": event_type, "event_version": event_version,
        "tenant_id": tenant_id, "aggregate_type": aggregate_type, "aggregate_id": aggregate_id,
        "aggregate_version": aggregate_version, "correlation_id": correlation_id,
        "causation_id": causation_id, "run_id": run_id, "thread_id": thread_id,
        "actor_type": actor_type, "actor_id": actor_id, "payload_schema": payload_schema,
        "payload": _loads(payload), "occurred_at": _instant(occurred_at),
        "position": position, "prev_hash": prev_hash, "hash": hash_,
    })
    _set(event, "__pydantic_fields_set__", _ALL_SET)
    _set(event, "__pydantic_extra__", None)
    _set(event, "__pydantic_private__", None)
    return event


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
