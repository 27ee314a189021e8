"""Time and ids, injected everywhere so tests are deterministic."""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

Clock = Callable[[], datetime]
IdFactory = Callable[[str], str]


def system_clock() -> datetime:
    return datetime.now(UTC)


def random_ids(prefix: str) -> str:
    """`prop_3f2a...`: a prefix says what an id names when it shows up in a log.
    128 random bits as hex, like a uuid4's, at a fifth of its cost."""
    return f"{prefix}_{os.urandom(16).hex()}"


class FixedClock:
    """A clock that moves only when told to."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime(2026, 1, 1, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


class SequentialIds:
    """Deterministic ids: prop_000001, evt_000002, ..."""

    def __init__(self) -> None:
        self._counter = itertools.count(1)

    def __call__(self, prefix: str) -> str:
        return f"{prefix}_{next(self._counter):06d}"
