"""Crash injection for the crash tests: SIGKILL this process at a named point.

Armed only by the environment (`SIGNOFF_CRASH_AT=point` or `point:N` for the
N-th time the point is reached), read once on first use. Unarmed, a point
costs one comparison.
"""

from __future__ import annotations

import os
import signal

_armed: tuple[str, int] | None = None
_loaded = False
_seen = 0


def _arm() -> None:
    global _armed, _loaded
    _loaded = True
    spec = os.environ.get("SIGNOFF_CRASH_AT", "")
    if spec:
        name, _, count = spec.partition(":")
        _armed = (name, int(count or "1"))


def crash_point(name: str) -> None:
    global _seen
    if not _loaded:
        _arm()
    if _armed is None or _armed[0] != name:
        return
    _seen += 1
    if _seen >= _armed[1]:
        os.kill(os.getpid(), signal.SIGKILL)
