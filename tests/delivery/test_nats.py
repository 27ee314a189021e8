"""NATS JetStream against the real server on 127.0.0.1:4222: the message id
is the Nats-Msg-Id header, so publishing one message twice stores it once."""

from __future__ import annotations

import json
import socket
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest

from signoff.server.app import App
from signoff.server.delivery.nats import NatsSink, subject_for
from signoff.store.records import OutboxMessage

from .conftest import RecordingSink, make_relay

nats = pytest.importorskip("nats", reason="nats-py is not installed")

pytestmark = pytest.mark.anyio
SERVER = "nats://127.0.0.1:4222"


def nats_is_running() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 4222), timeout=1):
            return True
    except OSError:
        return False


@pytest.fixture
async def jetstream() -> AsyncIterator[Any]:
    if not nats_is_running():
        pytest.skip("no NATS server on 127.0.0.1:4222 (start one with `nats-server -js`)")
    nc = await nats.connect(SERVER)
    try:
        yield nc.jetstream()
    finally:
        await nc.close()


@pytest.fixture
def names() -> tuple[str, str]:
    """A stream and a subject prefix of this test alone."""
    unique = uuid.uuid4().hex[:12]
    return f"SIGNOFF_TEST_{unique}", f"signofftest{unique}"


def message(message_id: str, tenant: str = "acme") -> OutboxMessage:
    return OutboxMessage(
        message_id=message_id, tenant_id=tenant, topic="notice.sent", aggregate_id="n-1",
        correlation_id="corr-1", payload={"payload": {"body": "Dear party"}},
        created_at=datetime(2026, 1, 1, tzinfo=UTC))


async def test_the_same_message_id_published_twice_is_stored_once(
    jetstream: Any, names: tuple[str, str]
) -> None:
    stream, prefix = names
    sink = NatsSink("bus", [SERVER], subject_prefix=prefix, stream=stream)
    try:
        await sink.publish(message("evt-1"))
        await sink.publish(message("evt-1"))  # a redelivery after a crash
        await sink.publish(message("evt-2", tenant="globex"))
        info = await jetstream.stream_info(stream)
        assert info.state.messages == 2
        assert info.config.subjects == [f"{prefix}.>"]

        first = await jetstream.get_msg(stream, 1)
        assert first.subject == f"{prefix}.acme.notice.sent"
        assert first.headers["Nats-Msg-Id"] == "evt-1"
        body = json.loads(first.data)
        assert (body["id"], body["payload"]) == ("evt-1", {"payload": {"body": "Dear party"}})
        second = await jetstream.get_msg(stream, 2)
        assert second.subject == f"{prefix}.globex.notice.sent"
    finally:
        await sink.close()
        await jetstream.delete_stream(stream)


async def test_the_relay_publishes_the_outbox_to_jetstream(
    app: App, jetstream: Any, names: tuple[str, str]
) -> None:
    stream, prefix = names
    rows = await app.store.read(lambda uow: uow.outbox.find(limit=10_000))
    sink = NatsSink("bus", [SERVER], subject_prefix=prefix, stream=stream)
    relay = make_relay(app, sink, RecordingSink())
    try:
        result = await relay.drain()
        assert result.published == len(rows)
        info = await jetstream.stream_info(stream)
        assert info.state.messages == len(rows)
        # the same rows again (as after a crash before marking them): no new messages
        for row in rows:
            await sink.publish(row)
        assert (await jetstream.stream_info(stream)).state.messages == len(rows)
    finally:
        await relay.close()
        await jetstream.delete_stream(stream)


async def test_a_server_that_cannot_be_reached_is_a_retryable_failure(app: App) -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    sink = NatsSink("bus", [f"nats://127.0.0.1:{port}"], timeout=1)
    relay = make_relay(app, sink, max_attempts=5)
    try:
        result = await relay.drain()
    finally:
        await relay.close()
    assert result.published == 0
    assert result.retrying + result.deferred == result.claimed > 0
    rows = await app.store.read(lambda uow: uow.outbox.find(status="pending", limit=1))
    assert rows[0].last_error is not None
    assert rows[0].last_error.startswith("bus: NATS")


def test_tenant_ids_are_one_subject_token() -> None:
    assert subject_for("signoff", message("m", tenant="acme")) == "signoff.acme.notice.sent"
    assert subject_for("s", message("m", tenant="a.b*c >")) == "s.a_2eb_2ac_20_3e.notice.sent"
