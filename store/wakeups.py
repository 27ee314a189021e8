"""Wakeups: commits an adapter noticed, and the consumers waiting for one.

An adapter calls `Wakeups.signal()` when it learns of a commit readers care
about: SQLite's writer thread after its own commit, PostgreSQL's listening
connection when a notification arrives. `signal` may be called from any
thread; each waiter is woken on its own event loop. A count of signals, not
a flag, makes a waiter that was busy when a commit came back at once the
next time it waits (no wakeup falls between a consumer's read and its wait).
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import threading
import time
import weakref

import anyio

from signoff.store.ports import Changes

__all__ = ["LINGER", "Waiter", "Wakeups", "rest"]

# Seconds at least between a woken worker's passes (`rest`): at most 100 passes a
# second per worker on a busy database, and at most 10 ms added to a lone
# commit's delivery when it follows the last pass that closely.
LINGER = 0.01

_Sleeper = tuple[asyncio.AbstractEventLoop, "asyncio.Future[None]"]


class Wakeups:
    """The signals of one store, and who is waiting for the next."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._count = 0
        self._sleepers: list[_Sleeper] = []

    @property
    def count(self) -> int:
        """Signals so far: a waiter compares it with the count it last saw."""
        return self._count

    def changes(self) -> Waiter:
        return Waiter(self)

    def signal(self) -> None:
        """Something was committed: wake every waiter. Any thread."""
        with self._lock:
            self._count += 1
            sleepers, self._sleepers = self._sleepers, []
        for loop, future in sleepers:
            with contextlib.suppress(RuntimeError):  # that loop has closed
                loop.call_soon_threadsafe(_wake, future)

    def _sleep(self, seen: int) -> asyncio.Future[None] | None:
        """A future the next signal completes, or None if one came after `seen`."""
        loop = asyncio.get_running_loop()
        with self._lock:
            if self._count != seen:
                return None
            future: asyncio.Future[None] = loop.create_future()
            self._sleepers.append((loop, future))
            return future

    def _forget(self, future: asyncio.Future[None]) -> None:
        with self._lock:
            self._sleepers = [s for s in self._sleepers if s[1] is not future]


def _wake(future: asyncio.Future[None]) -> None:
    if not future.done():  # a waiter that timed out or was cancelled is gone
        future.set_result(None)


class Waiter:
    """`Changes` for one consumer: remembers the signals it has seen."""

    def __init__(self, wakeups: Wakeups) -> None:
        self._wakeups = wakeups
        self._seen = wakeups.count

    async def wait(self, seconds: float) -> bool:
        future = self._wakeups._sleep(self._seen)
        woken = future is None
        if future is not None:
            try:
                with anyio.move_on_after(seconds):
                    await future
                    woken = True
            finally:
                self._wakeups._forget(future)
        # Whatever ended the wait, the consumer reads the store next: every
        # signal until now is answered by that read.
        self._seen = self._wakeups.count
        return woken


async def rest(
    changes: Changes, stop: anyio.Event, seconds: float, *, linger: float = LINGER,
) -> bool:
    """Wait for a commit, for `stop`, or for `seconds`, whichever
    comes first: what a worker does between passes. True when a commit woke
    it. Passes are paced, not delayed: a commit after a quiet spell is taken
    at once (a lone proposal's delivery, a gateway call waited on inline,
    pays no linger), while a commit within `linger` of the worker's last
    pass waits out the rest of it, taking in that pass what committed
    meanwhile. So on a busy database each worker of each process passes at
    most about 1/`linger` times a second, rather than once for every commit."""
    woken = False
    if stop.is_set():
        return woken
    with anyio.move_on_after(seconds):
        async with anyio.create_task_group() as tg:

            async def on_change() -> None:
                nonlocal woken
                woken = await changes.wait(math.inf)
                tg.cancel_scope.cancel()

            tg.start_soon(on_change)
            await stop.wait()
            tg.cancel_scope.cancel()
    previous = _passes.get(changes)
    early = 0.0 if previous is None else linger - (time.monotonic() - previous)
    if woken and early > 0:
        with anyio.move_on_after(early):
            await stop.wait()
        await changes.wait(0)  # what came meanwhile, the coming pass takes
    _passes[changes] = time.monotonic()
    return woken


# When each consumer's last pass began (its last `rest` returned): a
# consumer's Changes is its own, and goes with it.
_passes: weakref.WeakKeyDictionary[Changes, float] = weakref.WeakKeyDictionary()
