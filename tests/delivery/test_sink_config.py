"""The sinks file: small, strict, and clear about what is wrong with it."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from signoff.server.app import App
from signoff.server.delivery.config import DeliveryConfig, build_sinks, load_delivery_config
from signoff.server.delivery.consumers import NotificationConsumer
from signoff.server.delivery.nats import NatsSink
from signoff.server.delivery.sinks import JsonlSink, WebhookSink
from signoff.server.errors import ConfigError
from tests.core.helpers import invoke, snapshot
from tests.databases import both_adapters

pytestmark = pytest.mark.anyio

FULL = """
console_url = "https://console.example"

[relay]
max_attempts = 3
base_delay = 0.5

[[sink]]
name = "archive"
kind = "jsonl"
path = "out/events.jsonl"

[[sink]]
name = "reviewers"
kind = "webhook"
url = "https://hooks.example/signoff"
secret_env = "TEST_WEBHOOK_SECRET"
topics = ["approval.*"]

[[sink]]
name = "bus"
kind = "nats"
stream = "SIGNOFF"
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "sinks.toml"
    path.write_text(textwrap.dedent(text))
    return path


async def test_without_a_file_only_the_notification_consumer_runs(app: App) -> None:
    config = load_delivery_config(None)
    assert config == DeliveryConfig()
    [sink] = build_sinks(config, consumers=app.consumers, folder=app.settings.folder())
    assert isinstance(sink, NotificationConsumer)
    assert sink.file.path == app.settings.folder() / "notices.jsonl"


async def test_a_full_file(app: App, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_WEBHOOK_SECRET", "k")
    config = load_delivery_config(write(tmp_path, FULL))
    assert (config.relay.max_attempts, config.relay.base_delay, config.relay.batch) == (3, 0.5, 100)
    sinks = build_sinks(config, consumers=app.consumers, folder=app.settings.folder())
    try:
        assert [type(s) for s in sinks] == [JsonlSink, WebhookSink, NatsSink,
                                            NotificationConsumer]
        archive = sinks[0]
        assert isinstance(archive, JsonlSink)
        assert archive.path == tmp_path / "out" / "events.jsonl"
        bus = sinks[2]
        assert isinstance(bus, NatsSink)
        assert (bus.servers, bus.subject_prefix, bus.stream) == (
            ["nats://127.0.0.1:4222"], "signoff", "SIGNOFF")
    finally:
        for sink in sinks:
            await sink.close()


async def test_a_webhook_without_its_secret_is_refused(
    app: App, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TEST_WEBHOOK_SECRET", raising=False)
    config = load_delivery_config(write(tmp_path, FULL))
    with pytest.raises(ConfigError, match="TEST_WEBHOOK_SECRET"):
        build_sinks(config, consumers=app.consumers, folder=app.settings.folder())


@pytest.mark.parametrize(("text", "problem"), [
    ('[relay]\nmax_attemps = 3\n', "relay.max_attemps: Extra inputs are not permitted"),
    ('[relay]\nmax_attempts = 0\n', "relay.max_attempts: Input should be greater than or equal"),
    ('[[sink]]\nname = "x"\nkind = "kafka"\n', "sink.0: Input tag 'kafka'"),
    ('[[sink]]\nname = "x"\nkind = "webhook"\nurl = "ftp://x"\nsecret_env = "S"\n',
     "sink.0.webhook.url: String should match pattern"),
    ('[[sink]]\nname = "a"\nkind = "jsonl"\npath = "a"\n[[sink]]\nname = "a"\nkind = "jsonl"\n'
     'path = "b"\n', "sink names must be unique"),
    ("[relay\n", "not valid TOML"),
    ('[relay]\nlease = 20\n[[sink]]\nname = "w"\nkind = "webhook"\nurl = "https://x"\n'
     'secret_env = "S"\ntimeout = 10\n',
     "relay.lease (20s) must be at least 3 times the largest sink timeout (10s, sink w)"),
    ('[[sink]]\nname = "bus"\nkind = "nats"\ntimeout = 30\n',
     "relay.lease (60s) must be at least 3 times the largest sink timeout (30s, sink bus)"),
])
def test_a_bad_file_names_the_file_and_the_key(tmp_path: Path, text: str, problem: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as raised:
        load_delivery_config(path)
    assert str(path) in raised.value.message
    assert problem in raised.value.message


@both_adapters
async def test_the_relay_command_refuses_a_bad_file_and_writes_nothing(
    app: App, tmp_path: Path
) -> None:
    bad = write(tmp_path, "[relay]\nbatch = -1\n")
    before = snapshot(app.settings.db)
    result = await invoke(["relay", "--once", "--db", str(app.settings.db), "--sinks", str(bad)])
    assert result.exit_code == 2
    assert "relay.batch" in result.stderr
    assert snapshot(app.settings.db) == before
