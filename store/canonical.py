"""Canonical JSON and the digests built on it.

One encoding for everything that is hashed (payload digests, the event chain),
so the same content always has the same digest whatever its key order.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any

from signoff.store.records import EventEnvelope


def _default(value: object) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"not JSON-serialisable: {type(value).__name__}")


def canonical_json(value: Any) -> str:
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_default
    )


def digest(value: Any) -> str:
    return hashlib.sha256(canonical_json(value).encode()).hexdigest()


def event_hash(event: EventEnvelope) -> str:
    """The hash of an event: every field but `hash` itself, prev_hash and
    position included, so editing, reordering or dropping an event shows."""
    return digest(event.model_dump(mode="json", exclude={"hash"}))
