"""A relay and a projector wired from an app: what `serve` and the CLI run."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import anyio

from signoff.server.delivery.config import (
    LEASE_FACTOR,
    DeliveryConfig,
    build_sinks,
    default_sinks_path,
    load_delivery_config,
)
from signoff.server.delivery.relay import Relay
from signoff.server.observability import domain_sensitive_fields
from signoff.server.state.projector import Projector

if TYPE_CHECKING:
    from signoff.server.app import App


def relay_for(app: App, config: DeliveryConfig, *, owner: str | None = None) -> Relay:
    sinks = build_sinks(config, consumers=app.consumers, folder=app.settings.folder())
    # Consumers' timeouts (a gateway's upstream calls) are known only now: a
    # lease too short for them is lengthened, never left to fail the start.
    needed = LEASE_FACTOR * max((s.timeout for s in sinks), default=0.0)
    options = config.relay if config.relay.lease >= needed else \
        config.relay.model_copy(update={"lease": needed})
    return Relay(app.store, sinks, app.clock, options, owner=owner,
                 leave=app.consumers.left_alone(),
                 sensitive=domain_sensitive_fields(app.domain))


def projector_for(app: App, config: DeliveryConfig | None = None) -> Projector:
    poll = config.relay.poll if config is not None else 0.2
    return Projector(app.store, app.domain, app.upcaster, poll=poll)


async def relay_worker(app: App, sinks: Path | None = None) -> None:
    """Everything that catches up after a commit, until cancelled: the outbox
    relay (sinks from `sinks`, else `$SIGNOFF_SINKS`, else the notification
    consumer only) and the async projector. `signoff serve` runs this."""
    config = load_delivery_config(sinks or default_sinks_path())
    relay = relay_for(app, config)
    projector = projector_for(app, config)
    never = anyio.Event()
    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(relay.run, never)
            tg.start_soon(projector.run, never)
    finally:
        with anyio.CancelScope(shield=True):
            await relay.close()
