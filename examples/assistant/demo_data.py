"""Demo data: the household assistant of Sam, in tenant `home`.

A few short documents (fixed ids and text) and two plain notes already in
memory, so the first `build_context` has something to rank. Deterministic:
the demo, the tests and the README show the same refs.
"""

from __future__ import annotations

from typing import Final

from signoff.examples.assistant import events as ev
from signoff.examples.assistant.state import DOCUMENT, MEMORY
from signoff.server import NewEvent, SeedEvent

TENANT: Final = "home"

DOCUMENTS: Final = (
    ("doc-travel", "Travel policy",
     "Trains are booked second class; flights only for trips over six hours by train.\n\n"
     "Hotels up to 150 euros a night are fine without asking. Anything dearer needs Sam's "
     "approval before booking."),
    ("doc-dentist", "Dentist letter",
     "Your next check-up with Dr. Okafor is due in March. Call the practice on weekdays "
     "between 9 and 12 to book an appointment. Bring your insurance card."),
    ("doc-garden", "Garden notes",
     "Water the tomatoes every second evening in summer. The apple tree is pruned in "
     "February. Compost goes in the left bin; the right bin is for leaves."),
)

NOTES: Final = (
    ("mem-seed-trains", "Sam prefers trains to flights for anything under six hours.",
     "preference", "sam"),
    ("mem-seed-mornings", "Sam likes appointments in the morning, before 11.",
     "preference", "sam"),
)


def demo_data() -> list[SeedEvent]:
    seed = [SeedEvent(TENANT, DOCUMENT, doc_id, NewEvent(ev.DOCUMENT_ADDED,
                                                         {"title": title, "text": text}))
            for doc_id, title, text in DOCUMENTS]
    seed += [SeedEvent(TENANT, MEMORY, memory_id, NewEvent(ev.MEMORY_SAVED, {
        "text": text, "kind": kind, "subject": subject}))
        for memory_id, text, kind, subject in NOTES]
    return seed
