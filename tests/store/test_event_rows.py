"""Events read back from their rows are the envelopes that were stored.

`row_to_event` builds envelopes without validation (the store wrote the
rows from validated ones): what it builds must be indistinguishable from a
validated envelope, field by field, in every pydantic behaviour callers use.
"""

from __future__ import annotations

from datetime import timedelta, timezone

import pytest
from pydantic import ValidationError

from signoff.store.records import EventEnvelope
from signoff.store.sqlite.rows import EVENT_COLUMNS, event_row, row_to_event

from .factories import T0


def distinct_event() -> EventEnvelope:
    """Every field set, and to a value no other field has."""
    return EventEnvelope(
        event_id="ev-1", event_type="case.opened", event_version=3, tenant_id="acme",
        aggregate_type="case", aggregate_id="case-9", aggregate_version=7,
        correlation_id="corr-1", causation_id="cmd-1", run_id="run-1", thread_id="thread-1",
        actor_type="agent", actor_id="agent-1", payload_schema="case.opened/v3",
        payload={"title": "T", "nested": {"a": [1, 2]}},
        occurred_at=T0.astimezone(timezone(timedelta(hours=2))), position=41,
        prev_hash="p" * 64, hash="h" * 64,
    )


def test_an_event_read_back_equals_the_validated_one_field_by_field() -> None:
    stored = distinct_event()
    read = row_to_event(event_row(stored))
    assert read == stored
    assert list(read.__dict__) == list(stored.__dict__)  # same field order (repr, dumps)
    assert read.model_fields_set == stored.model_fields_set
    assert read.model_dump() == stored.model_dump()
    assert read.model_dump_json() == stored.model_dump_json()
    assert repr(read) == repr(stored)
    assert read.occurred_at.utcoffset() == timedelta(hours=2)


def test_every_column_lands_in_its_own_field() -> None:
    stored = distinct_event()
    row = event_row(stored)
    read = row_to_event(row)
    for column, value in zip(EVENT_COLUMNS, row, strict=True):
        if column not in ("payload", "occurred_at"):
            assert getattr(read, column) == value, column


def test_an_event_read_back_stays_frozen_and_copies_like_any_other() -> None:
    read = row_to_event(event_row(distinct_event()))
    with pytest.raises(ValidationError):
        read.position = 1  # type: ignore[misc]
    copied = read.model_copy(update={"position": 42})
    assert (copied.position, read.position) == (42, 41)
    assert copied.model_fields_set == read.model_fields_set
    assert read.model_copy(deep=True) == read


def test_events_read_back_share_nothing_a_copy_or_an_assignment_could_change() -> None:
    first, second = (row_to_event(event_row(distinct_event())) for _ in range(2))
    everything = set(EventEnvelope.model_fields)
    first.model_copy(update={"position": 1}).model_fields_set.add("position")
    with pytest.raises(ValidationError):
        first.hash = "x"  # type: ignore[misc]
    assert first.model_fields_set == second.model_fields_set == everything
    assert first.model_copy().model_fields_set is not first.model_fields_set
