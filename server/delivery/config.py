"""The delivery configuration: a small TOML file beside the policy.

Without a file (no `--sinks`, no `$SIGNOFF_SINKS`) the relay publishes to the
notification consumer only. A file looks like this; every key is optional
except each sink's `name`, `kind` and what that kind needs:

    console_url = "http://127.0.0.1:8766"  # links in approval notifications

    [relay]
    max_attempts = 8      # a message is dead-lettered after this many failures
    base_delay = 1.0      # seconds before the first retry; doubled each time,
    max_delay = 600.0     #   with jitter, up to this
    batch = 100           # rows claimed per pass
    lease = 60.0          # seconds a claimed row stays reserved to its relay; at
                          #   least 3x the largest sink timeout (a relay starts no
                          #   publish in the last timeout's worth of its lease)
    poll = 0.2            # seconds between passes when there is nothing to do and
                          #   no commit wakes the relay (on PostgreSQL any process's
                          #   does, on SQLite only its own process's)

    [notifier]            # the domain's notification consumer (casework: sent
    enabled = true        #   notices -> notices.jsonl beside the database)
    file = "notices.jsonl"

    [[sink]]
    name = "archive"
    kind = "jsonl"
    path = "events.jsonl"                  # relative to this file
    topics = ["*"]                         # glob patterns; default all

    [[sink]]
    name = "reviewers"
    kind = "webhook"
    url = "https://hooks.example.org/signoff"
    secret_env = "SIGNOFF_WEBHOOK_SECRET"  # the HMAC key, read from the environment
    timeout = 10.0
    topics = ["approval.*"]

    [[sink]]
    name = "bus"
    kind = "nats"
    servers = ["nats://127.0.0.1:4222"]
    subject_prefix = "signoff"             # subjects: signoff.<tenant>.<topic>, the
                                           #   tenant id escaped as one token: ASCII
                                           #   letters, digits and '-' kept, any other
                                           #   byte (UTF-8) as '_' + 2 hex digits, so
                                           #   acme.eu -> acme_2eeu, acme_eu -> acme_5feu
    stream = "SIGNOFF"                     # created if missing; omit to manage it yourself

Secrets never live in the file: a webhook names the environment variable
holding its key. A webhook URL may still carry one (a user and password, a
token in the path or query): errors, logs, `outbox status` and the trace
name a webhook by scheme, host and port only.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from signoff.server.delivery.nats import NatsSink
from signoff.server.delivery.sinks import JsonlSink, Sink, WebhookSink
from signoff.server.errors import ConfigError
from signoff.server.services.registry import ConsumerRegistry

SINKS_ENV = "SIGNOFF_SINKS"
LEASE_FACTOR = 3  # a lease is at least this many times the largest sink timeout


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


Topics = Annotated[list[str], Field(min_length=1)]
Name = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.\-]+$")]


class RelayOptions(Strict):
    max_attempts: int = Field(default=8, ge=1, le=100)
    base_delay: float = Field(default=1.0, gt=0, le=3600)
    max_delay: float = Field(default=600.0, gt=0, le=86_400)
    batch: int = Field(default=100, ge=1, le=10_000)
    lease: float = Field(default=60.0, gt=0, le=86_400)
    poll: float = Field(default=0.2, gt=0, le=60)


class NotifierOptions(Strict):
    enabled: bool = True
    file: str | None = None  # default: the one the domain's notification names


class JsonlSinkOptions(Strict):
    name: Name
    kind: Literal["jsonl"]
    path: str
    topics: Topics = Field(default_factory=lambda: ["*"])


class WebhookSinkOptions(Strict):
    name: Name
    kind: Literal["webhook"]
    url: str = Field(pattern=r"^https?://")
    secret_env: str = Field(min_length=1)
    timeout: float = Field(default=10.0, gt=0, le=300)
    topics: Topics = Field(default_factory=lambda: ["*"])


class NatsSinkOptions(Strict):
    name: Name
    kind: Literal["nats"]
    servers: list[str] = Field(default_factory=lambda: ["nats://127.0.0.1:4222"], min_length=1)
    subject_prefix: str = Field(default="signoff", pattern=r"^[A-Za-z0-9_\-]+(\.[A-Za-z0-9_\-]+)*$")
    stream: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_\-]+$")
    timeout: float = Field(default=5.0, gt=0, le=300)
    topics: Topics = Field(default_factory=lambda: ["*"])


SinkOptions = Annotated[
    JsonlSinkOptions | WebhookSinkOptions | NatsSinkOptions, Field(discriminator="kind")
]


class DeliveryConfig(Strict):
    console_url: str | None = Field(default=None, pattern=r"^https?://")
    relay: RelayOptions = Field(default_factory=RelayOptions)
    notifier: NotifierOptions = Field(default_factory=NotifierOptions)
    sink: list[SinkOptions] = Field(default_factory=list)
    # Where relative sink paths start; set by the loader, not by the file.
    base: Path = Field(default=Path("."), exclude=True)


def default_sinks_path() -> Path | None:
    value = os.environ.get(SINKS_ENV)
    return Path(value) if value else None


def load_delivery_config(path: Path | None) -> DeliveryConfig:
    """The file's configuration, or the default (notifier only) for None.
    Raises ConfigError naming the file and the key."""
    if path is None:
        return DeliveryConfig()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from exc
    try:
        config = DeliveryConfig.model_validate({**data, "base": path.parent})
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '(file)'}: {e['msg']}" for e in exc.errors())
        raise ConfigError(f"{path}: {problems}") from exc
    names = [s.name for s in config.sink]
    dupes = sorted({n for n in names if names.count(n) > 1} | ({"notifier"} & set(names)))
    if dupes:
        raise ConfigError(f"{path}: sink names must be unique (and not 'notifier'): {dupes}")
    problem = lease_problem(config.relay.lease, {
        s.name: s.timeout for s in config.sink if not isinstance(s, JsonlSinkOptions)})
    if problem:
        raise ConfigError(f"{path}: {problem}")
    return config


def lease_problem(lease: float, timeouts: dict[str, float]) -> str | None:
    """Why `lease` is too short for sinks with these timeouts, or None. A
    relay starts no publish once less than the largest timeout is left of its
    lease; a lease not comfortably longer would leave it little or no time."""
    slowest = max(timeouts, key=lambda name: timeouts[name], default=None)
    if slowest is None or lease >= LEASE_FACTOR * timeouts[slowest]:
        return None
    return (f"relay.lease ({lease:g}s) must be at least {LEASE_FACTOR} times the largest sink "
            f"timeout ({timeouts[slowest]:g}s, sink {slowest})")


def build_sinks(
    config: DeliveryConfig, *, consumers: ConsumerRegistry, folder: Path
) -> list[Sink]:
    """The sinks in file order, the registered consumers last (so the
    outside world hears of a sent notice before it is recorded delivered).
    Consumers keep their files in `folder`, the database's."""
    sinks: list[Sink] = []
    for options in config.sink:
        if isinstance(options, JsonlSinkOptions):
            sinks.append(JsonlSink(options.name, config.base / options.path, options.topics,
                                   console_url=config.console_url))
        elif isinstance(options, WebhookSinkOptions):
            secret = os.environ.get(options.secret_env)
            if not secret:
                raise ConfigError(f"sink {options.name}: environment variable "
                                  f"{options.secret_env} (the webhook secret) is not set")
            sinks.append(WebhookSink(
                options.name, options.url, secret.encode(), topics=options.topics,
                console_url=config.console_url, timeout=options.timeout))
        else:
            sinks.append(NatsSink(
                options.name, options.servers, subject_prefix=options.subject_prefix,
                stream=options.stream, topics=options.topics, timeout=options.timeout,
                console_url=config.console_url))
    tables = {"notifier": config.notifier.model_dump(exclude_none=True)}
    sinks.extend(consumers.build(folder, tables))
    return sinks
