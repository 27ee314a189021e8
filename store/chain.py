"""Stamping events onto the hash chain, for every adapter's append.

The hash is `canonical.event_hash` of the event as stamped; it is computed
here from one dump of the unstamped event with its position and prev_hash
set, so each event costs one dump and one copy inside the writer instead of
two copies and a dump (issue 13).
"""

from __future__ import annotations

from collections.abc import Sequence

from signoff.store.canonical import digest
from signoff.store.records import EventEnvelope


def stamp(
    events: Sequence[EventEnvelope], position: int, prev_hash: str
) -> list[EventEnvelope]:
    """`events` at the positions after `position`, chained from `prev_hash`."""
    stamped: list[EventEnvelope] = []
    for event in events:
        position += 1
        hashed = event.model_dump(mode="json", exclude={"hash"})
        hashed["position"], hashed["prev_hash"] = position, prev_hash
        stamped.append(event.model_copy(
            update={"position": position, "prev_hash": prev_hash, "hash": digest(hashed)}))
        prev_hash = stamped[-1].hash
    return stamped
