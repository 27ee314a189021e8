"""The casework domain with one extra inline projection that fails on
`case.closed` when told to: a failure after the events were appended."""

from __future__ import annotations

from dataclasses import replace

from signoff.examples.casework import build_domain as casework
from signoff.server.domain import Domain, Projection, ReadModelWriter
from signoff.store.records import EventEnvelope

FAIL_ON_CLOSE = False


def _fragile(writer: ReadModelWriter, event: EventEnvelope) -> None:
    if FAIL_ON_CLOSE:
        raise RuntimeError("projection exploded")
    writer.put(event.aggregate_id, {"closed": True})


def build_domain() -> Domain:
    domain = casework()
    fragile = Projection(name="fragile", handles=frozenset({"case.closed"}), apply=_fragile)
    return replace(domain, projections=[*domain.projections, fragile])
