"""Checking the event log end to end: its hash chain, what refers to it, and
the anchors taken of it.

The chain alone proves only that what is left is consistent: deleting the
newest events leaves a shorter, intact chain. What refers to events outlives
them, so verify also checks that every event an executed proposal, a command
result or an outbox row names is still there (and, for the outbox, at the
position and with the hash it carries), and that no projector checkpoint is
past the head. A tamperer who also cleans all of those is caught by an anchor:
a (position, hash) pair taken earlier and kept somewhere the database's
owner cannot rewrite (`signoff audit anchor --out FILE`).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from signoff.server.errors import InvalidInput
from signoff.store.canonical import event_hash
from signoff.store.ports import UnitOfWork

BATCH = 5000


@dataclass(frozen=True)
class Anchor:
    """The head of the log at one moment: later, the event at `position`
    must still exist and still have `hash`."""

    position: int
    hash: str


@dataclass(frozen=True)
class ChainReport:
    checked: int
    head: int
    head_hash: str = ""
    # The first position that cannot be trusted (the head + 1 when events
    # past the head are missing), and why.
    broken_at: int | None = None
    problem: str = ""
    anchors: int = 0  # anchors checked

    @property
    def ok(self) -> bool:
        return self.broken_at is None


def verify_chain(uow: UnitOfWork, anchors: Sequence[Anchor] = ()) -> ChainReport:
    """The chain walk, then the cross-checks, then the anchors: the first
    problem found is the report's."""
    report = _walk(uow)
    if not report.ok:
        return report
    found = _referrers(uow, report.head) or _anchored(uow, anchors)
    if found is not None:
        broken_at, problem = found
        return ChainReport(checked=report.checked, head=report.head, head_hash=report.head_hash,
                           broken_at=broken_at, problem=problem)
    return ChainReport(checked=report.checked, head=report.head, head_hash=report.head_hash,
                       anchors=len(anchors))


def _walk(uow: UnitOfWork) -> ChainReport:
    """Walk every event in order: positions without gaps, each prev_hash the
    hash of the one before, each hash the hash of its own content. Stops at
    the first break: everything after it is unverifiable anyway."""
    previous, expected, checked = "", 1, 0
    while True:
        events = uow.events.read_after(expected - 1, BATCH)
        if not events:
            return ChainReport(checked=checked, head=expected - 1, head_hash=previous)
        for event in events:
            problem = ""
            if event.position != expected:
                problem = f"position {expected} is missing (next is {event.position})"
            elif event.prev_hash != previous:
                problem = "prev_hash does not match the previous event's hash"
            elif event_hash(event) != event.hash:
                problem = "content does not match its hash (the event was edited)"
            if problem:
                return ChainReport(checked=checked, head=uow.events.head(),
                                   broken_at=expected, problem=problem)
            previous, expected, checked = event.hash, expected + 1, checked + 1


def _referrers(uow: UnitOfWork, head: int) -> tuple[int, str] | None:
    """The first record that names an event the log does not hold."""
    deleted = f"the log ends at position {head}: events were deleted"
    for message_id, position in uow.outbox.unlogged_events(limit=1):
        if position > head:
            return position, (f"outbox message {message_id} carries the event at position "
                              f"{position}, which is not in the log ({deleted})")
        return position, (f"outbox message {message_id} carries the event at position "
                          f"{position}, and the log holds another event there (rewritten)")
    for proposal_id, event_id in uow.proposals.unlogged_events(limit=1):
        return head + 1, (f"proposal {proposal_id} names event {event_id}, which is not in "
                          f"the log ({deleted})")
    for name, position in uow.checkpoints.all().items():
        if position > head:
            return head + 1, f"checkpoint {name} is at position {position} ({deleted})"
    return None


def _anchored(uow: UnitOfWork, anchors: Sequence[Anchor]) -> tuple[int, str] | None:
    """The first anchor the log no longer matches."""
    held = uow.events.hashes_at(sorted({a.position for a in anchors}))
    for anchor in sorted(anchors, key=lambda a: a.position):
        found = held.get(anchor.position)
        if found is None:
            return anchor.position, (f"the anchored event at position {anchor.position} is not "
                                     "in the log (it was truncated past the anchor)")
        if found != anchor.hash:
            return anchor.position, (f"the event at position {anchor.position} does not have "
                                     "its anchored hash (history up to it was rewritten)")
    return None


def anchor_line(anchor: Anchor, at: str) -> str:
    return json.dumps({"position": anchor.position, "hash": anchor.hash, "anchored_at": at},
                      sort_keys=True)


def read_anchors(path: Path) -> list[Anchor]:
    """The anchors of a file `audit anchor --out` wrote: one JSON object a
    line (blank lines skipped). Raises InvalidInput naming the line at fault."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"cannot read anchor file {path}: {exc}") from exc
    anchors = []
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            anchors.append(_anchor(line, f"{path}:{number}"))
    if not anchors:
        raise InvalidInput(f"anchor file {path} holds no anchor")
    return anchors


def _anchor(line: str, where: str) -> Anchor:
    expected = 'expected {"position": <integer >= 1>, "hash": "<64 hex digits>"}'
    try:
        doc = json.loads(line)
    except ValueError:
        raise InvalidInput(f"{where}: not JSON; {expected}") from None
    position = doc.get("position") if isinstance(doc, dict) else None
    hash_ = doc.get("hash") if isinstance(doc, dict) else None
    if (type(position) is not int or position < 1 or not isinstance(hash_, str)
            or len(hash_) != 64 or any(c not in "0123456789abcdef" for c in hash_)):
        raise InvalidInput(f"{where}: {expected}")
    return Anchor(position=position, hash=hash_)
