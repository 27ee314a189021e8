"""signoff's public face for domain authors: everything a domain is declared
with. A domain imports from here and nowhere else of signoff's:

    from signoff.server import CommandType, Domain, NewEvent, Rejection, ...

The services, surfaces and stores behind it are signoff's own business and
may move; these names will not.
"""

from signoff.server.domain import (
    AggregateType,
    Citations,
    CommandType,
    Consumer,
    DecideContext,
    Delivery,
    Domain,
    DomainError,
    Loaded,
    NewEvent,
    Notification,
    Projection,
    QueryNotFound,
    QueryResult,
    QueryType,
    ReadModelReader,
    ReadModelWriter,
    Recorded,
    Rejection,
    SearchHit,
    SeedEvent,
    Settles,
    StateLoader,
    Upcaster,
)
from signoff.store.records import Actor, EventEnvelope

__all__ = [
    "Actor",
    "AggregateType",
    "Citations",
    "CommandType",
    "Consumer",
    "DecideContext",
    "Delivery",
    "Domain",
    "DomainError",
    "EventEnvelope",
    "Loaded",
    "NewEvent",
    "Notification",
    "Projection",
    "QueryNotFound",
    "QueryResult",
    "QueryType",
    "ReadModelReader",
    "ReadModelWriter",
    "Recorded",
    "Rejection",
    "SearchHit",
    "SeedEvent",
    "Settles",
    "StateLoader",
    "Upcaster",
]
