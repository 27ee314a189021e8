"""NATS JetStream as a sink: subjects per tenant and topic, the message id as
`Nats-Msg-Id` so the stream stores a redelivered message once."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import anyio

from signoff.server.delivery.sinks import BaseSink, SinkError, encode, message_document
from signoff.store.records import OutboxMessage

_SUBJECT_SAFE = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-")


def subject_token(text: str) -> str:
    """`text` as one NATS subject token, one-to-one: ASCII letters, digits and
    '-' stay; every other byte of its UTF-8 form (including '_' itself, '.',
    '*', '>' and spaces) becomes '_' and two lowercase hex digits. So
    `acme.eu` is `acme_2eeu` and `acme_eu` is `acme_5feu`: two tenants never
    share a subject."""
    return "".join(chr(b) if b in _SUBJECT_SAFE else f"_{b:02x}" for b in text.encode())


def subject_for(prefix: str, message: OutboxMessage) -> str:
    """`<prefix>.<tenant>.<topic>`, e.g. signoff.acme.notice.sent, the tenant
    id escaped as one token (`subject_token`)."""
    return f"{prefix}.{subject_token(message.tenant_id)}.{message.topic}"


class NatsSink(BaseSink):
    """Publishes to JetStream and waits for the stream's acknowledgement. The
    message id is the `Nats-Msg-Id` header, so a redelivery within the
    stream's duplicate window is stored once. With `stream` set, the stream
    is created (subjects `<prefix>.>`) if it does not exist."""

    def __init__(
        self, name: str, servers: Sequence[str], *, subject_prefix: str = "signoff",
        stream: str | None = None, topics: Sequence[str] = ("*",), timeout: float = 5.0,
        console_url: str | None = None,
    ) -> None:
        super().__init__(name, topics)
        self.servers = list(servers)
        self.subject_prefix = subject_prefix
        self.stream = stream
        self.timeout = timeout
        self._console_url = console_url
        self._nc: Any = None
        self._js: Any = None
        self._lock = anyio.Lock()
        self._down_until = 0.0
        self._down_reason = ""

    async def _jetstream(self) -> Any:
        import nats  # imported here: only a relay configured for NATS needs nats-py
        from nats.js.errors import NotFoundError

        async with self._lock:  # concurrent publishes share one connection
            if self._js is None:
                if time.monotonic() < self._down_until:
                    # The server was unreachable a moment ago: fail the rest of
                    # the batch now instead of waiting for each to time out.
                    raise SinkError(f"NATS unreachable: {self._down_reason}")
                try:
                    # No reconnecting inside nats-py: a failure goes back to the
                    # relay (retry with backoff), the next publish reconnects.
                    # (max_reconnect_attempts also bounds the first connect:
                    # each server is tried twice, then NoServersError.)
                    nc = await nats.connect(
                        servers=self.servers, connect_timeout=max(1, round(self.timeout)),
                        allow_reconnect=False, max_reconnect_attempts=1, reconnect_time_wait=0,
                    )
                except Exception as exc:
                    self._down_until = time.monotonic() + self.timeout
                    self._down_reason = f"{type(exc).__name__}: {exc}"
                    raise SinkError(f"NATS connect: {self._down_reason}") from exc
                try:
                    js = nc.jetstream(timeout=self.timeout)
                    if self.stream:
                        try:
                            await js.stream_info(self.stream)
                        except NotFoundError:
                            await js.add_stream(name=self.stream,
                                                subjects=[f"{self.subject_prefix}.>"])
                except BaseException:
                    await nc.close()
                    raise
                self._nc, self._js = nc, js
            return self._js

    async def publish(self, message: OutboxMessage) -> None:
        from nats.errors import Error as NatsError

        body = encode(message_document(message, self._console_url))
        try:
            js = await self._jetstream()
            await js.publish(
                subject_for(self.subject_prefix, message), body, timeout=self.timeout,
                headers={"Nats-Msg-Id": message.message_id},
            )
        except (NatsError, OSError, TimeoutError) as exc:
            await self.close()  # reconnect on the next attempt
            raise SinkError(f"NATS publish: {type(exc).__name__}: {exc}") from exc

    async def close(self) -> None:
        async with self._lock:
            nc, self._nc, self._js = self._nc, None, None
            if nc is not None and not nc.is_closed:
                await nc.close()
