"""A fixed clock just before the real time, so ages and expiry read sensibly
and the CLI (on the system clock) agrees on what has expired. The seeded app
itself comes from tests/conftest.py."""

from __future__ import annotations

from datetime import timedelta

import pytest

from signoff.server.clock import FixedClock
from tests.review.helpers import real_clock


@pytest.fixture
def clock() -> FixedClock:
    # Half an hour ago: tests may move it forward without passing real time.
    return real_clock(-timedelta(minutes=30))
