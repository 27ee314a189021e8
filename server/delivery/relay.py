"""The outbox relay: committed events and notifications out to the sinks.

One pass claims a batch of due rows (a lease with this relay's owner id and
an expiry, written in one write transaction, so two relays on one database
never publish the same row at the same time), publishes each row to every
sink that wants it, makes the sinks durable (`flush`), then settles the
batch in one transaction: published rows are marked published, failed ones
are retried later with exponential backoff and jitter, or dead-lettered
after `max_attempts`. A crash anywhere before the settling transaction
leaves the rows pending: they are published again (at least once), and the
consumers' inbox makes the second time a no-op.

Rows of one aggregate go out in position order: `claim` never hands out a
row while an earlier row of its aggregate is still pending elsewhere, or
dead (a dead row holds its aggregate back until `outbox retry`), and within
a batch a row whose predecessor failed is not attempted.

Between passes a relay waits for a commit that adds rows or makes rows
claimable again (in any process, where the store can tell: `Store.changes`),
polling every `poll` seconds all the same: for rows whose retry has come
due, and for commits nobody was told of.

A full batch is settled in the same transaction that claims the next one
(one commit, one fsync, between two batches rather than two): the next
batch's lease starts there, and rows claimed ahead that are never published
(a stop, a shutdown) are given back as a cancelled pass's are.

A lease is also a deadline: no publish starts once less than `margin` of it
is left (the slowest sink's timeout, at least a tenth of the lease); the
rest of the batch is put back for the next pass. A row is counted as
published only if this relay still held it when it settled.
"""

from __future__ import annotations

import logging
import os
import random
import socket
import uuid
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime, timedelta

import anyio

from signoff.server.clock import Clock
from signoff.server.delivery.batch import Batch, PassResult, Plan, settle
from signoff.server.delivery.config import RelayOptions, lease_problem
from signoff.server.delivery.sinks import Sink
from signoff.server.errors import ConfigError
from signoff.server.observability import bound, redact, span
from signoff.store.faults import crash_point
from signoff.store.ports import Store, UnitOfWork
from signoff.store.records import OutboxMessage
from signoff.store.wakeups import rest

log = logging.getLogger("signoff.relay")
MAX_ERROR = 500  # characters of a sink's error kept on the row
CONCURRENCY = 8  # aggregates published at the same time within a batch


def default_owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class Relay:
    def __init__(
        self, store: Store, sinks: Sequence[Sink], clock: Clock,
        options: RelayOptions | None = None, *, owner: str | None = None,
        rng: random.Random | None = None, sensitive: frozenset[str] = frozenset(),
        leave: frozenset[str] = frozenset(),
    ) -> None:
        self._store = store
        # Topics another relay's consumer owns (a gateway's calls): never claimed.
        self.leave = leave
        self.sinks = list(sinks)
        self._clock = clock
        self.options = options or RelayOptions()
        self.owner = owner or default_owner()
        self._rng = rng or random.Random()  # jitter, not security
        self._sensitive = sensitive
        # Claimed with the last settle, not published yet: (rows, lease end).
        self._ahead: tuple[list[OutboxMessage], datetime] | None = None
        problem = lease_problem(self.options.lease, {s.name: s.timeout for s in self.sinks})
        if problem:
            raise ConfigError(problem)

    @property
    def margin(self) -> timedelta:
        """How much of its lease a relay keeps back: it starts no publish
        later than this before the lease ends, so a publish (bounded by the
        slowest sink's timeout) ends before another relay may take the row,
        with a tenth of the lease at least left to flush and settle."""
        return timedelta(seconds=max([self.options.lease / 10, *(s.timeout for s in self.sinks)]))

    def backoff(self, failures: int) -> timedelta:
        """Delay after the `failures`-th failure: base * 2^(failures-1), capped,
        half of it fixed and half random ("equal jitter"), so retries of many
        rows that failed together spread out instead of arriving together."""
        ceiling = min(self.options.max_delay, self.options.base_delay * 2 ** (failures - 1))
        return timedelta(seconds=ceiling / 2 + self._rng.uniform(0, ceiling / 2))

    async def run_once(self) -> PassResult:
        """Claim (unless the last pass claimed ahead), publish and settle one batch."""
        if self._ahead is not None:
            (claimed, until), self._ahead = self._ahead, None
        else:
            now = self._clock()
            until = now + timedelta(seconds=self.options.lease)
            claimed = await self._store.write(lambda uow: self._claim(uow, now, until))
        if not claimed:
            return PassResult()
        try:
            return await self._deliver(claimed, until)
        except BaseException:
            # Cancelled (a shutdown) or broken mid-pass: give the leases back
            # now, so another relay need not wait out the lease. Rows already
            # published go out again (at least once; the inbox dedupes).
            with anyio.CancelScope(shield=True):
                await self._release(claimed)
            raise

    def _claim(self, uow: UnitOfWork, now: datetime, until: datetime) -> list[OutboxMessage]:
        return uow.outbox.claim(self.owner, now, until, self.options.batch, leave=self.leave)

    async def give_back(self) -> None:
        """Release the rows claimed ahead and not published (a stop)."""
        if self._ahead is not None:
            (claimed, _), self._ahead = self._ahead, None
            with anyio.CancelScope(shield=True):
                await self._release(claimed)

    async def _release(self, claimed: list[OutboxMessage]) -> None:
        ids = [m.message_id for m in claimed]
        try:
            await self._store.write(lambda uow: uow.outbox.release(self.owner, ids))
        except Exception:
            log.exception("could not release %d leased row(s); they wait out the lease",
                          len(ids))

    async def _deliver(self, claimed: list[OutboxMessage], until: datetime) -> PassResult:
        batch = Batch(deadline=until - self.margin)
        groups: dict[tuple[str, str] | str, list[OutboxMessage]] = defaultdict(list)
        for message in claimed:
            groups[ordering_key(message)].append(message)
        # A few workers take aggregates off one queue: aggregates go out side
        # by side (a slow webhook does not hold up the batch), each in order.
        queue = list(groups.values())
        queue.reverse()
        async with anyio.create_task_group() as tg:
            for _ in range(min(CONCURRENCY, len(queue))):
                tg.start_soon(self._publish_groups, queue, batch)
        if batch.out_of_time:
            log.warning("lease running out: rows put back unpublished", extra={
                "rows": batch.out_of_time, "lease_s": self.options.lease})
        await self._flush(batch)
        return await self._settle(claimed, batch)

    async def _publish_groups(self, queue: list[list[OutboxMessage]], batch: Batch) -> None:
        while queue:
            messages = queue.pop()
            for index, message in enumerate(messages):
                if self._clock() >= batch.deadline:
                    # Another relay may claim these rows any moment now: put
                    # them back (released, no attempt counted) rather than
                    # publish them beside it.
                    rest = [m.message_id for m in messages[index:]]
                    batch.deferred += rest
                    batch.out_of_time += len(rest)
                    break
                error = await self._publish(message, batch)
                if error is not None:
                    batch.failed[message.message_id] = error
                    batch.deferred += [m.message_id for m in messages[index + 1:]]
                    break
                batch.ok.append(message.message_id)

    async def _publish(self, message: OutboxMessage, batch: Batch) -> str | None:
        clean = redact(message.payload, self._sensitive)
        redacted = message if clean is message.payload else message.model_copy(
            update={"payload": clean})
        with bound(message_id=message.message_id, correlation_id=message.correlation_id):
            for sink in self.sinks:
                if not sink.wants(message):
                    continue
                # Secrets and sensitive fields never leave the process; a
                # consumer inside it acts on the message as committed.
                outgoing = message if sink.internal else redacted
                with span("outbox.publish", correlation_id=message.correlation_id,
                          message_id=message.message_id, topic=message.topic, sink=sink.name,
                          attempt=message.attempts + 1):
                    try:
                        await sink.publish(outgoing)
                    except Exception as exc:
                        log.warning("delivery failed", extra={
                            "sink": sink.name, "topic": message.topic,
                            "attempt": message.attempts + 1, "error": str(exc)})
                        return f"{sink.name}: {exc}"[:MAX_ERROR]
                batch.by_sink[sink.name].append(message.message_id)
        crash_point("relay.after_publish")
        return None

    async def _flush(self, batch: Batch) -> None:
        """Make every sink durable before anything is marked published; a
        sink that cannot fails every row it took in this batch."""
        for sink in self.sinks:
            taken = batch.by_sink.get(sink.name)
            if not taken:
                continue
            try:
                await sink.flush()
            except Exception as exc:
                error = f"{sink.name}: flush failed: {exc}"[:MAX_ERROR]
                for message_id in taken:
                    if message_id in batch.ok:
                        batch.ok.remove(message_id)
                        batch.failed[message_id] = error

    async def _settle(self, claimed: list[OutboxMessage], batch: Batch) -> PassResult:
        now = self._clock()
        attempts = {m.message_id: m.attempts for m in claimed}
        plans: list[Plan] = []
        for message_id, error in batch.failed.items():
            failures = attempts[message_id] + 1
            dead = failures >= self.options.max_attempts
            plans.append((message_id, error, None if dead else now + self.backoff(failures), dead))

        # After a full batch more rows are likely waiting: claim them in the
        # settling transaction. Shielded: once the transaction commits, this
        # relay must learn which rows it now holds, to publish or give back.
        ahead = len(claimed) >= self.options.batch
        until = now + timedelta(seconds=self.options.lease)

        def settle_and_claim(uow: UnitOfWork) -> tuple[tuple[PassResult, list[str]],
                                                        list[OutboxMessage]]:
            settled = settle(uow, self.owner, len(claimed), batch, plans, now)
            return settled, self._claim(uow, now, until) if ahead else []

        with anyio.CancelScope(shield=True):
            (result, dead_ids), following = await self._store.write(settle_and_claim)
        if following:
            self._ahead = (following, until)
        for message_id in dead_ids:
            log.error("message dead-lettered", extra={
                "message_id": message_id, "attempts": attempts[message_id] + 1,
                "error": batch.failed[message_id]})
        if result.lost:
            log.warning("leases expired before the batch was settled; rows were "
                        "published again by another relay", extra={"rows": result.lost})
        return result

    async def drain(self) -> PassResult:
        """Passes until one claims nothing: everything due now is settled."""
        total = PassResult()
        while True:
            result = await self.run_once()
            total.add(result)
            if result.claimed == 0:
                return total

    async def run(self, stop: anyio.Event) -> None:
        changes = self._store.changes()
        try:
            while not stop.is_set():
                try:
                    result = await self.run_once()
                except Exception:
                    log.exception("relay pass failed")
                    result = PassResult()
                if result.claimed < self.options.batch and self._ahead is None:
                    await rest(changes, stop, self.options.poll)
        finally:
            await self.give_back()

    async def close(self) -> None:
        await self.give_back()
        for sink in self.sinks:
            try:
                await sink.close()
            except Exception:
                log.exception("closing sink %s failed", sink.name)


def ordering_key(message: OutboxMessage) -> tuple[str, str] | str:
    """Messages of one key go out one after another, in position order: an
    aggregate's, and all calls to one upstream (in one tenant), so upstream
    calls are made in the order they were approved."""
    event = message.payload.get("payload")
    upstream = event.get("upstream") if isinstance(event, dict) else None
    if message.topic.startswith("tool_call.") and isinstance(upstream, str):
        return (message.tenant_id, f"upstream:{upstream}")
    if message.aggregate_id:
        return (message.tenant_id, message.aggregate_id)
    return message.message_id
