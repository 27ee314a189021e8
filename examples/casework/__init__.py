"""casework: the reference domain — a regulatory enforcement desk.

Cases (open → under_review → escalated → closed), the evidence collected for
them and notices to regulated parties (drafted → approved → sent → delivered).
Agents read through four queries and act through seven proposable commands;
the policy in `policy.toml` decides which of those run, wait for a human, or
are refused. Built only on the public domain API, as a user's domain would be.
"""

from __future__ import annotations

from signoff.examples.casework.commands import COMMANDS
from signoff.examples.casework.context import GET_CASE_CONTEXT
from signoff.examples.casework.demo_data import demo_data
from signoff.examples.casework.events import EVENT_VERSIONS, UPCASTERS
from signoff.examples.casework.projections import ASYNC_PROJECTIONS, EVIDENCE_INDEX, PROJECTIONS
from signoff.examples.casework.queries import GET_CASE_SUMMARY, LIST_CASES, SEARCH_EVIDENCE
from signoff.examples.casework.state import CASE, EVIDENCE, NOTICE
from signoff.server import Citations, Domain, Notification

__all__ = ["build_domain"]


def build_domain() -> Domain:
    """A fresh Domain each call; nothing is connected or read at import time."""
    return Domain(
        name="casework",
        aggregates=(CASE, EVIDENCE, NOTICE),
        commands=COMMANDS,
        queries=(LIST_CASES, GET_CASE_SUMMARY, SEARCH_EVIDENCE, GET_CASE_CONTEXT),
        projections=(*PROJECTIONS, *ASYNC_PROJECTIONS),
        event_versions=EVENT_VERSIONS,
        upcasters=UPCASTERS,
        # An agent cites evidence by id; reviewers see its title and summary.
        evidence=Citations(aggregate=EVIDENCE, projection=EVIDENCE_INDEX),
        # A sent notice reaches notices.jsonl once, then is recorded delivered.
        notifications=(Notification(
            topic="notice.sent", command="notice.record_delivery",
            payload=lambda draft_id: {"draft_id": draft_id}),),
        seed=demo_data,
    )
