"""The runtime log of tool calls, written in batches off the hot path.

Every MCP tool call leaves one `RuntimeEntry` (who, which tool, its
arguments and result redacted and bounded by `call_record`, a digest of the
arguments with secrets removed, the outcome, latency and the agent's run
ids). Committing each entry on its own would put an fsync on every query;
instead entries are buffered and flushed in one transaction every ~200 ms or
every 100 entries, and on shutdown. A failed flush is logged and retried on
the next tick; the buffer is bounded so a dead database cannot exhaust memory.

A tool call is buffered as it happened (`call_record.ToolCall`), and made
into its entry - arguments and answer redacted, bounded and digested - when
flushed: that work is no part of the call's answer, so the agent does not
wait for it. An entry that cannot be made is logged and dropped, never
written unredacted.

What that costs: a clean stop (stdin closed, SIGINT, SIGTERM, `stop`) flushes
everything, so the trace shows every call. A crash (SIGKILL, power loss)
loses the entries not yet flushed - at most the last ~200 ms of calls (100
at most, more only while the store is failing) - and nothing else: each
proposal, decision and event is committed, durably, before its receipt is
returned, and the runtime log is no part of that transaction. SPEC asks the
runtime log to record each call, not to be durable at the instant of the
call.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

import anyio
import anyio.lowlevel

from signoff.store.canonical import digest
from signoff.store.ports import Store, UnitOfWork
from signoff.store.records import RuntimeEntry

log = logging.getLogger("signoff.mcp.runtime_log")

SECRET_MARKERS = ("token", "secret", "password")
# Values `redact` returns as they are, told apart by exact type: arguments
# are mostly these, and a test per value instead of a call is cheaper.
_PLAIN = frozenset({str, int, float, bool, type(None)})
FLUSH_INTERVAL = 0.2
FLUSH_BATCH = 100
MAX_BUFFERED = 10_000
# Entries made between two checkpoints of a flush: a full batch of calls
# does not hold the event loop for its whole making at once.
_MADE_PER_TURN = 16


class Pending(Protocol):
    """A call buffered as it happened, made into its entry when flushed."""

    def entry(self) -> RuntimeEntry: ...


def redact(value: Any) -> Any:
    """`value` without any mapping key that names a secret, at any depth."""
    if isinstance(value, Mapping):
        return {k: v if type(v) in _PLAIN else redact(v)
                for k, v in value.items() if not _names_secret(k)}
    if isinstance(value, list | tuple):
        return [v if type(v) in _PLAIN else redact(v) for v in value]
    return value


@functools.lru_cache(maxsize=4096)
def _names_secret(key: object) -> bool:
    # Argument names repeat from call to call: each is judged once.
    lowered = str(key).lower()
    return any(marker in lowered for marker in SECRET_MARKERS)


def arguments_digest(arguments: Mapping[str, Any]) -> str:
    """A digest of the redacted arguments: equal calls can be matched up in
    the log, those recorded before it kept the arguments too."""
    try:
        return digest(redact(arguments))
    except (TypeError, ValueError):
        return "unhashable"


class RuntimeLogWriter:
    def __init__(self, store: Store, *, interval: float = FLUSH_INTERVAL,
                 batch: int = FLUSH_BATCH) -> None:
        self._store = store
        self._interval = interval
        self._batch = batch
        self._buffer: list[RuntimeEntry | Pending] = []
        # Made by the running loop (`run`, `flush`): the writer itself may be
        # built before any event loop exists.
        self._wake: anyio.Event | None = None
        self._lock: anyio.Lock | None = None

    def record(self, entry: RuntimeEntry | Pending) -> None:
        """Queue one entry (or a call to make one of); never blocks and never
        fails the tool call."""
        if len(self._buffer) >= MAX_BUFFERED:
            log.error("runtime log buffer full (%d entries): dropping an entry", MAX_BUFFERED)
            return
        self._buffer.append(entry)
        if len(self._buffer) >= self._batch and self._wake is not None:
            self._wake.set()

    @property
    def pending(self) -> int:
        return len(self._buffer)

    async def flush(self) -> int:
        """Write everything buffered so far; returns how many entries."""
        if self._lock is None:
            self._lock = anyio.Lock()
        async with self._lock:
            pending, self._buffer = self._buffer, []
            if not pending:
                return 0
            try:
                batch = await _made(pending)
            except BaseException:  # cancelled between turns: nothing is lost
                self._buffer[:0] = pending
                raise
            if not batch:
                return 0

            def append(uow: UnitOfWork) -> None:
                uow.runtime.append(batch)

            try:
                await self._store.write(append)
            except Exception:
                log.exception("runtime log flush failed; %d entries kept for retry", len(batch))
                self._buffer[:0] = batch[: MAX_BUFFERED - len(self._buffer)]
                return 0
            return len(batch)

    async def run(self) -> None:
        """Flush every `interval`, or sooner when a batch fills; flush what is
        left when cancelled (shutdown)."""
        try:
            while True:
                self._wake = anyio.Event()
                if len(self._buffer) < self._batch:
                    with anyio.move_on_after(self._interval):
                        await self._wake.wait()
                if not await self.flush() and self._buffer:
                    await anyio.sleep(self._interval)  # the store failed: do not spin
        finally:
            with anyio.CancelScope(shield=True):
                await self.flush()


async def _made(pending: Sequence[RuntimeEntry | Pending]) -> list[RuntimeEntry]:
    """The entries of `pending`, each call made into its entry; one that
    fails to be made is logged and left out (the rest are written)."""
    made: list[RuntimeEntry] = []
    for number, item in enumerate(pending, 1):
        if isinstance(item, RuntimeEntry):
            made.append(item)
            continue
        try:
            made.append(item.entry())
        except Exception:
            log.exception("runtime log: a call's entry could not be made; dropped")
        if number % _MADE_PER_TURN == 0:
            await anyio.lowlevel.checkpoint()
    return made
