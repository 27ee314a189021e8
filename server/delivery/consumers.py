"""Consumers: side effects of committed events, each happening exactly once.

The relay delivers at least once: after a crash between publishing and
marking a row published, the same message comes again. A consumer makes
that harmless by recording `(consumer, message_id)` in the inbox, and a
message already recorded there is skipped.

The notification consumer (a domain's `Notification`; casework's: a sent
notice reaches `notices.jsonl` beside the database) has two effects that no
single transaction can span — a file append and a committed fact (casework:
`notice.delivered`) — so it makes each one idempotent on its own and runs them in this order:

1. the file: every line carries the message id. Under an exclusive lock on
   the file, the ids already in it (read once, then only the bytes appended
   since) are checked before appending; the line is fsynced before going on.
   A crash before the fsync leaves at most a torn last line, which the next
   appender cuts off (it holds the lock, so no writer is mid-line). So a
   message id is in the file once, whatever the retries, crashes or
   concurrent relays.
2. the fact, proposed THROUGH THE EXECUTOR as the notification's command
   (casework: `notice.record_delivery`) by its service principal, with an idempotency key derived
   from the message id: the proposal service stores that key in the same
   transaction as the proposal and its events, so a repeated proposal
   returns the stored receipt instead of committing a second fact.
3. the inbox row: written once both effects stand, it is the record that
   this consumer is done with the message, and redeliveries stop at step 0
   (the inbox check) without touching the file or the executor.

A crash between any two steps repeats only steps that are no-ops the second
time, so each notice appears once in the file and is delivered once.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import IO, Any

import anyio.to_thread

from signoff.policies import NotAMemberError, PrincipalFacts
from signoff.policies.principals import Principals
from signoff.server.clock import Clock
from signoff.server.delivery.sinks import BaseSink, SinkError
from signoff.server.domain import Notification
from signoff.server.observability import bound, span
from signoff.server.services.proposals import CallContext
from signoff.server.services.receipts import Receipt
from signoff.server.services.registry import ConsumerFactory, ConsumerPlace
from signoff.store.faults import crash_point
from signoff.store.ports import Store
from signoff.store.records import OutboxMessage

Submit = Callable[[PrincipalFacts, str, Mapping[str, Any], CallContext], Awaitable[Receipt]]


def delivery_key(message_id: str) -> str:
    """The idempotency key of the proposal recording a delivery; the trace
    follows it back to the message."""
    return f"outbox:{message_id}"


async def handled_by(store: Store, consumer: str, message_id: str) -> bool:
    """Whether `consumer`'s inbox already holds `message_id` (its effect done)."""
    found = await store.read(lambda uow: uow.inbox.handled([message_id]))
    return any(name == consumer for name, _, _ in found)

class IdempotentFile:
    """A JSONL file in which each message id appears at most once."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._ids: set[str] = set()
        self._offset = 0  # bytes of the file already read into _ids

    def append_once(self, message_id: str, doc: dict[str, Any]) -> bool:
        """Append `doc` (which must carry `message_id`) unless a line with
        that id is there already; True if it appended. Blocking: run it on a
        worker thread."""
        line = (json.dumps(doc, sort_keys=True, ensure_ascii=False) + "\n").encode()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a+b") as file:
            fcntl.flock(file, fcntl.LOCK_EX)
            try:
                self._catch_up(file)
                if message_id in self._ids:
                    return False
                file.write(line)
                file.flush()
                os.fsync(file.fileno())
                self._ids.add(message_id)
                self._offset += len(line)
                return True
            finally:
                fcntl.flock(file, fcntl.LOCK_UN)

    def _catch_up(self, file: IO[bytes]) -> None:
        """Read what others appended since our last look; cut a torn tail."""
        size = file.seek(0, os.SEEK_END)
        if size < self._offset:  # truncated or replaced: start over
            self._ids.clear()
            self._offset = 0
        file.seek(self._offset)
        chunk = file.read(size - self._offset)
        complete, newline, torn = chunk.rpartition(b"\n")
        for raw in complete.split(b"\n") if complete else ():
            with contextlib.suppress(ValueError):
                doc = json.loads(raw)
                if isinstance(doc, dict) and isinstance(doc.get("message_id"), str):
                    self._ids.add(doc["message_id"])
        self._offset += len(complete) + len(newline)
        if torn:
            file.truncate(self._offset)


def notice_line(message: OutboxMessage) -> dict[str, Any]:
    """One delivered notice: the message id first of all, then what was sent."""
    event = message.payload
    return {
        "message_id": message.message_id,
        "tenant_id": message.tenant_id,
        "aggregate_id": message.aggregate_id,
        "topic": message.topic,
        "correlation_id": message.correlation_id,
        "occurred_at": event.get("occurred_at"),
        "notice": event.get("payload", {}),
    }


class NotificationConsumer(BaseSink):
    """Delivers messages of one topic to a JSONL file and records each
    delivery as a committed fact through the executor (module docstring).
    Internal: it delivers the notice itself, so it gets the message
    unredacted (module `sinks`)."""

    internal = True

    def __init__(
        self, notification: Notification, path: Path, *, store: Store, submit: Submit,
        principals: Principals, clock: Clock,
    ) -> None:
        super().__init__(notification.name, topics=(notification.topic,))
        self.file = IdempotentFile(path)
        self._notification = notification
        self._store = store
        self._submit = submit
        self._principals = principals
        self._clock = clock

    async def publish(self, message: OutboxMessage) -> None:
        if not self.wants(message):
            return
        with bound(message_id=message.message_id, correlation_id=message.correlation_id), \
                span("consumer.notify", correlation_id=message.correlation_id,
                     message_id=message.message_id, consumer=self.name):
            if await handled_by(self._store, self.name, message.message_id):
                return
            await anyio.to_thread.run_sync(
                self.file.append_once, message.message_id, notice_line(message))
            crash_point("notifier.after_append")
            await self._record_delivery(message)
            crash_point("notifier.before_inbox")
            now = self._clock()
            await self._store.write(
                lambda uow: uow.inbox.record(self.name, message.message_id, now))

    async def _record_delivery(self, message: OutboxMessage) -> None:
        wanted = self._notification
        record = self._principals.get(wanted.principal)
        if record is None:
            raise SinkError(f"principal {wanted.principal} is not configured")
        try:
            principal = record.facts(message.tenant_id)
        except NotAMemberError as exc:
            raise SinkError(str(exc)) from exc
        receipt = await self._submit(
            principal, wanted.command,
            {**wanted.payload(message.aggregate_id or ""), "confidence": 1.0,
             "rationale": f"delivered message {message.message_id} to {self.file.path.name}",
             "idempotency_key": delivery_key(message.message_id)},
            CallContext(correlation_id=message.correlation_id),
        )
        if receipt.status != "executed":
            raise SinkError(f"{wanted.command} was not executed ({receipt.outcome}, "
                            f"{receipt.status}): {receipt.reason}")


def notifier_factory(
    notification: Notification, *, store: Store, submit: Submit, principals: Principals,
    clock: Clock,
) -> ConsumerFactory:
    """How the composition root registers a domain's notification: a
    consumer per relay, its file beside the database unless the delivery
    file's table for it names another (`[notifier] file = ...`)."""
    def build(place: ConsumerPlace) -> NotificationConsumer:
        name = str(place.options.get("file") or notification.file)
        return NotificationConsumer(notification, place.folder / name, store=store,
                                    submit=submit, principals=principals, clock=clock)

    return build
