"""The trace of an upstream call: what a gateway proposal made happen outside.

A proposal of a gateway command (`tool.<upstream>.<tool>`) has a `tool_call`
aggregate whose events tell the call's story (server/gateway/calls.py):

    tool_call.approved        the executor committed the approved proposal
    tool_call.started         an attempt is about to be sent
    tool_call.completed | failed | outcome_unknown | not_sent   how it ended
    tool_call.retry_approved  a person asked for one more attempt
    tool_call.resolved        a person settled an unknown outcome

`call_steps` turns them into trace steps: the approval as the committed event
it is, then one side-effect step per attempt (started to its end, with the
time it took), and one per person's resolution or retry. Each names its cause
(an attempt: the approval, or the retry that asked for it; a settlement: the
attempt it settles), and the proposal status a step moved the proposal to
cites it too.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from signoff.store.records import EventEnvelope

AGGREGATE = "tool_call"
# The event names are the gateway's (signoff.server.gateway.calls), as SPEC
# fixes them; the trace reads them as recorded facts.
APPROVED, STARTED = "tool_call.approved", "tool_call.started"
RETRY, RESOLVED = "tool_call.retry_approved", "tool_call.resolved"
ENDINGS = {"tool_call.completed": "completed", "tool_call.failed": "failed",
           "tool_call.outcome_unknown": "outcome unknown", "tool_call.not_sent": "not sent"}


class AddStep(Protocol):
    def __call__(self, step_id: str, kind: Any, label: str, *, at: datetime | None,
                 actor: str = "", causes: Iterable[str | None] = (),
                 proposal_id: str | None = None, **details: Any) -> str: ...


@dataclass
class _Attempt:
    number: int
    cause: str | None
    started: EventEnvelope | None = None
    ended: EventEnvelope | None = None

    @property
    def first(self) -> EventEnvelope:
        found = self.started or self.ended
        assert found is not None  # an attempt is made from one of them
        return found

    @property
    def step_id(self) -> str:
        return f"call:{self.first.aggregate_id}:{self.number}"

    @property
    def event_ids(self) -> list[str]:
        return [e.event_id for e in (self.started, self.ended) if e is not None]


Item = EventEnvelope | _Attempt


def _story(events: Sequence[EventEnvelope], cause: str | None) -> list[tuple[Item, str | None]]:
    """The events as the approval, attempts (a start and its end) and
    settlements, each with the step id of its cause."""
    items: list[tuple[Item, str | None]] = []
    attempt: _Attempt | None = None
    latest = cause
    for event in events:
        if event.event_type in ENDINGS and attempt is not None and attempt.ended is None:
            attempt.ended = event  # the attempt already listed, now with its end
            continue
        if event.event_type == STARTED or event.event_type in ENDINGS:
            attempt = _Attempt(sum(isinstance(i, _Attempt) for i, _ in items) + 1, latest)
            attempt.started = event if event.event_type == STARTED else None
            attempt.ended = event if event.event_type in ENDINGS else None
            items.append((attempt, latest))
            latest = attempt.step_id
        elif event.event_type in (APPROVED, RETRY, RESOLVED):
            items.append((event, latest))
            latest = f"event:{event.event_id}"
    return items


def call_steps(events: Sequence[EventEnvelope], add: AddStep, *, name: str,
               cause: str | None, proposal_id: str) -> dict[str, str]:
    """Steps for the events of one `tool_call` aggregate (in version order);
    `name` says which call (`repo.git_commit`), `cause` is the step the
    approval follows (the executor's status change).
    Returns the step of each event id, for what names an event (deliveries,
    status changes)."""
    by_event: dict[str, str] = {}
    for item, caused_by in _story(events, cause):
        if isinstance(item, _Attempt):
            step = _attempt_step(item, name, add, caused_by, proposal_id)
            by_event.update((e, step) for e in item.event_ids)
        elif item.event_type == APPROVED:
            by_event[item.event_id] = _approved(item, name, add, caused_by, proposal_id)
        else:
            by_event[item.event_id] = _settled(item, add, caused_by, proposal_id)
    return by_event


def _approved(event: EventEnvelope, name: str, add: AddStep, cause: str | None,
              pid: str) -> str:
    return add(f"event:{event.event_id}", "event",
               f"#{event.position} {event.event_type}: {name} approved to be called once",
               at=event.occurred_at, actor=event.actor_id, causes=[cause], proposal_id=pid,
               position=event.position, payload=event.payload, hash=event.hash)


def _attempt_step(attempt: _Attempt, name: str, add: AddStep, cause: str | None,
                  pid: str) -> str:
    first = attempt.first
    ending = ENDINGS[attempt.ended.event_type] if attempt.ended else "in progress"
    start_at = attempt.started.occurred_at if attempt.started else None
    end_at = attempt.ended.occurred_at if attempt.ended else None
    duration = (round((end_at - start_at).total_seconds() * 1000, 3)
                if start_at is not None and end_at is not None else None)
    took = f" after {duration / 1000:.3f} s" if duration is not None else ""
    ended = attempt.ended.payload if attempt.ended else {}
    return add(
        attempt.step_id, "side_effect",
        f"upstream call {name} attempt {attempt.number}: {ending}{took}",
        at=start_at or end_at, actor=first.actor_id, causes=[cause], proposal_id=pid,
        upstream=first.payload.get("upstream"), attempt=attempt.number, outcome=ending,
        started_at=start_at, ended_at=end_at, duration_ms=duration,
        reason=ended.get("reason"), result=ended.get("result"), event_ids=attempt.event_ids)


def _settled(event: EventEnvelope, add: AddStep, cause: str | None, pid: str) -> str:
    p = event.payload
    if event.event_type == RETRY:
        label = f"{p.get('by', event.actor_id)} asked for one more attempt"
    else:
        label = f"settled as {p.get('outcome')} by {p.get('by', event.actor_id)}"
    return add(f"event:{event.event_id}", "side_effect", label, at=event.occurred_at,
               actor=event.actor_id, causes=[cause], proposal_id=pid, reason=p.get("reason"),
               outcome=p.get("outcome"), position=event.position, hash=event.hash)


def status_causes(changes: Sequence[tuple[str, str, list[str]]],
                  by_event: dict[str, str]) -> dict[str, str]:
    """status step id -> the call step whose event that status change first
    recorded (each change lists the proposal's event ids so far), for the
    changes (status, step id, event ids) of one proposal in order."""
    seen: set[str] = set()
    out: dict[str, str] = {}
    for _, step_id, event_ids in changes:
        new = [e for e in event_ids if e not in seen]
        seen.update(event_ids)
        found = next((by_event[e] for e in reversed(new) if e in by_event), None)
        if found is not None:
            out[step_id] = found
    return out
