"""Delivery: the outbox relay, its sinks and consumers, and the async
projector that catches up after a commit. Other surfaces import from here."""

from signoff.server.delivery.batch import PassResult
from signoff.server.delivery.config import (
    SINKS_ENV,
    DeliveryConfig,
    RelayOptions,
    default_sinks_path,
    load_delivery_config,
)
from signoff.server.delivery.consumers import delivery_key
from signoff.server.delivery.sinks import SinkError
from signoff.server.delivery.workers import projector_for, relay_for, relay_worker

__all__ = [
    "SINKS_ENV",
    "DeliveryConfig",
    "PassResult",
    "RelayOptions",
    "SinkError",
    "default_sinks_path",
    "delivery_key",
    "load_delivery_config",
    "projector_for",
    "relay_for",
    "relay_worker",
]
