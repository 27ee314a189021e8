"""Redaction and JSON logs."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
from pydantic import BaseModel, Field

from signoff.examples.casework import build_domain
from signoff.examples.casework.state import CASE, CaseState
from signoff.server.domain import CommandType, Rejection
from signoff.server.observability import (
    bound,
    configure_logging,
    configure_tracing,
    domain_sensitive_fields,
    redact,
    sensitive_fields,
)


class Address(BaseModel):
    street: str = Field(json_schema_extra={"sensitive": True})
    city: str


class Payload(BaseModel):
    name: str
    ssn: str = Field(json_schema_extra={"sensitive": True})
    home: Address | None = None
    previous: list[Address] = Field(default_factory=list)


def test_redact_hides_secret_keys_and_sensitive_fields_without_touching_the_input() -> None:
    doc: dict[str, Any] = {
        "name": "x", "api_token": "t", "Authorization": "Bearer t", "db_password": "p",
        "client_secret": "s", "ssn": "123", "items": [{"refresh_TOKEN": "r", "ok": 1}],
        "nested": {"ssn": "456", "keep": True},
    }
    original = json.loads(json.dumps(doc))
    assert redact(doc, {"ssn"}) == {
        "name": "x", "api_token": "[redacted]", "Authorization": "[redacted]",
        "db_password": "[redacted]", "client_secret": "[redacted]", "ssn": "[redacted]",
        "items": [{"refresh_TOKEN": "[redacted]", "ok": 1}],
        "nested": {"ssn": "[redacted]", "keep": True},
    }
    assert doc == original
    assert redact("plain") == "plain"
    assert redact([1, {"token": 2}]) == [1, {"token": "[redacted]"}]


@pytest.mark.parametrize("key", [
    "api_key", "X-API-Key", "apikey", "private_key", "credentials", "aws_credential",
    "cookie", "Set-Cookie", "passwd", "db_passwd"])
def test_more_secret_looking_keys_are_redacted(key: str) -> None:
    assert redact({key: "s3cr3t", "keep": "k"}) == {key: "[redacted]", "keep": "k"}


def test_sensitive_fields_come_from_the_models() -> None:
    assert sensitive_fields(Payload) == {"ssn", "street"}
    assert domain_sensitive_fields(build_domain()) == frozenset()
    marked = CommandType[Payload, CaseState](
        name="case.secret", tool="create_secret", payload=Payload, aggregate=CASE,
        decide=lambda state, payload, ctx: Rejection("never runs"), description="d",
        target=lambda p: p.name)
    base = build_domain()
    domain = replace(base, commands=(*base.commands, marked))
    assert domain_sensitive_fields(domain) == {"ssn", "street"}


@pytest.fixture
def log_stream() -> Iterator[io.StringIO]:
    yield from capture_logs()


def capture_logs() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    handler = configure_logging(logging.INFO, stream=stream, sensitive={"ssn"})
    try:
        yield stream
    finally:
        logger = logging.getLogger("signoff")
        logger.removeHandler(handler)
        logger.propagate = True
        logger.setLevel(logging.NOTSET)


def test_logs_are_json_lines_with_bound_ids_and_redacted_fields(log_stream: io.StringIO) -> None:
    log = logging.getLogger("signoff.test")
    with bound(correlation_id="corr-1", run_id=None):
        log.info("delivered", extra={"message_id": "m-1", "api_token": "t", "ssn": "1"})
        try:
            raise ValueError("boom")
        except ValueError:
            log.exception("failed")
    log.warning("outside")
    first, second, third = (json.loads(line) for line in log_stream.getvalue().splitlines())
    assert {k: first[k] for k in ("level", "logger", "message", "correlation_id", "message_id",
                                  "api_token", "ssn")} == {
        "level": "info", "logger": "signoff.test", "message": "delivered",
        "correlation_id": "corr-1", "message_id": "m-1", "api_token": "[redacted]",
        "ssn": "[redacted]"}
    assert "run_id" not in first
    assert "ts" in first
    assert second["level"] == "error"
    assert "ValueError: boom" in second["exception"]
    assert "correlation_id" not in third


def test_configure_logging_twice_keeps_one_handler(log_stream: io.StringIO) -> None:
    configure_logging(stream=log_stream)
    logging.getLogger("signoff.test").info("once")
    assert len(log_stream.getvalue().splitlines()) == 1


def test_tracing_is_not_configured_without_an_endpoint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_ENDPOINT", raising=False)
    assert configure_tracing() is False
