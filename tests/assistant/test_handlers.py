"""The assistant's handlers, pure: state and payload in, events or a
rejection out — the same answer however often they are asked."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from signoff.examples.assistant import build_domain
from signoff.examples.assistant import events as ev
from signoff.examples.assistant.calls import (
    BeginCall,
    CallApi,
    RecordCall,
    ResolveCall,
    decide_begin,
    decide_call,
    decide_record,
    decide_resolve,
)
from signoff.examples.assistant.memory import (
    ForgetMemory,
    SaveMemory,
    UpdateMemory,
    decide_forget,
    decide_save,
    decide_update,
)
from signoff.examples.assistant.state import API_CALL, MEMORY, ApiCall, Memory
from signoff.server import (
    Actor,
    DecideContext,
    DomainError,
    EventEnvelope,
    NewEvent,
    Rejection,
    Settles,
)

NOW = datetime(2026, 1, 1, 9, 0, tzinfo=UTC)


class NoLoader:
    def load(self, aggregate: Any, aggregate_id: str) -> Any:
        raise AssertionError("these handlers read no other aggregate")


def ctx(aggregate_id: str = "x-1", actor: str = "agent:assistant") -> DecideContext:
    kind = "user" if actor.startswith("user:") else "agent"
    return DecideContext(tenant_id="home", actor=Actor(id=actor, kind=kind),
                         aggregate_id=aggregate_id, now=NOW, loader=NoLoader())


def fold(aggregate: Any, events: list[NewEvent], aggregate_id: str = "x-1") -> Any:
    state = aggregate.initial()
    for version, e in enumerate(events, start=1):
        state = aggregate.apply(state, EventEnvelope(
            event_id=f"evt-{version}", event_type=e.type, tenant_id="home",
            aggregate_type=aggregate.name, aggregate_id=aggregate_id, aggregate_version=version,
            actor_type="agent", actor_id="agent:assistant", payload_schema=f"{e.type}/v1",
            payload=dict(e.payload), occurred_at=NOW))
    return state


def events_of(decision: Any) -> list[NewEvent]:
    assert not isinstance(decision, Rejection), decision
    return list(decision)


# --- memory -------------------------------------------------------------------------
def saved(text: str = "Sam likes tea", **more: Any) -> tuple[Memory, list[NewEvent]]:
    events = events_of(decide_save(Memory(), SaveMemory(text=text, **more), ctx()))
    return fold(MEMORY, events), events


def test_save_records_text_kind_and_subject_trimmed() -> None:
    memory, events = saved("  Sam likes tea  ", kind="preference", subject=" sam ")
    assert events == [NewEvent(ev.MEMORY_SAVED, {"text": "Sam likes tea", "kind": "preference",
                                                 "subject": "sam"})]
    assert (memory.text, memory.kind, MEMORY.status(memory)) == ("Sam likes tea", "preference",
                                                                 "active")
    assert MEMORY.facts(memory) == {"kind": "preference", "subject": "sam"}


def test_update_replaces_the_text_and_refuses_a_no_op() -> None:
    memory, first = saved()
    update = events_of(decide_update(memory, UpdateMemory(memory_id="x-1", text="Sam likes "
                                                          "green tea"), ctx()))
    assert fold(MEMORY, first + update).text == "Sam likes green tea"
    same = decide_update(memory, UpdateMemory(memory_id="x-1", text="Sam likes tea"), ctx())
    assert same == Rejection("memory x-1 already says this")


def test_a_forgotten_item_cannot_be_updated_or_forgotten_again() -> None:
    memory, first = saved()
    forgotten = fold(MEMORY, first + events_of(decide_forget(memory, ForgetMemory(
        memory_id="x-1"), ctx())))
    assert MEMORY.status(forgotten) == "forgotten"
    for decision in (decide_forget(forgotten, ForgetMemory(memory_id="x-1"), ctx()),
                     decide_update(forgotten, UpdateMemory(memory_id="x-1", text="t"), ctx())):
        assert decision == Rejection("memory x-1 was forgotten; save a new item instead")
    assert decide_forget(Memory(), ForgetMemory(memory_id="x-1"), ctx()) == Rejection(
        "memory x-1 not found")


def test_a_memory_kind_must_be_one_of_three() -> None:
    with pytest.raises(ValidationError):
        SaveMemory.model_validate({"text": "t", "kind": "secret"})


# --- api calls ----------------------------------------------------------------------
def call_state(*steps: NewEvent) -> ApiCall:
    requested = events_of(decide_call(ApiCall(), CallApi(url="https://api.example.org/x"),
                                      ctx()))
    return fold(API_CALL, [*requested, *steps])  # type: ignore[no-any-return]


@pytest.mark.parametrize("url", ["ftp://example.org/x", "https://user:pw@example.org/",
                                 "example.org/x", "http:///nohost"])
def test_call_api_takes_only_http_urls_without_credentials(url: str) -> None:
    with pytest.raises(ValidationError):
        CallApi(url=url)


def test_begin_starts_a_requested_call_and_numbers_the_attempt() -> None:
    call = call_state()
    assert call.status == "requested"
    assert events_of(decide_begin(call, BeginCall(call_id="x-1"), ctx())) == [
        NewEvent(ev.CALL_STARTED, {"attempt": 1})]


def test_begin_on_a_started_call_records_an_unknown_outcome_never_a_second_start() -> None:
    started = call_state(NewEvent(ev.CALL_STARTED, {"attempt": 1}))
    [fact] = events_of(decide_begin(started, BeginCall(call_id="x-1"), ctx()))
    assert fact.type == ev.CALL_UNKNOWN
    assert fact.payload["attempt"] == 1
    assert "may or may not" in fact.payload["reason"]


def test_begin_on_a_settled_call_is_refused() -> None:
    done = call_state(NewEvent(ev.CALL_STARTED, {"attempt": 1}),
                      NewEvent(ev.CALL_COMPLETED, {"attempt": 1}))
    assert decide_begin(done, BeginCall(call_id="x-1"), ctx()) == Rejection(
        "api call x-1 is completed; nothing to start")


def test_an_outcome_counts_only_for_the_attempt_under_way() -> None:
    started = call_state(NewEvent(ev.CALL_STARTED, {"attempt": 1}))
    ok = RecordCall(call_id="x-1", attempt=1, outcome="completed", status_code=200, body="{}")
    [fact] = events_of(decide_record(started, ok, ctx()))
    assert (fact.type, fact.payload["status_code"]) == (ev.CALL_COMPLETED, 200)
    late = decide_record(started, ok.model_copy(update={"attempt": 2}), ctx())
    assert isinstance(late, Rejection)
    done = fold(API_CALL, [NewEvent(ev.CALL_REQUESTED, {"method": "GET", "url": "u"}),
                           NewEvent(ev.CALL_STARTED, {"attempt": 1}), fact])
    assert isinstance(decide_record(done, ok, ctx()), Rejection)  # recorded once


def test_a_refusal_is_recorded_before_any_attempt() -> None:
    refused = RecordCall(call_id="x-1", attempt=0, outcome="refused", reason="not allowed")
    [fact] = events_of(decide_record(call_state(), refused, ctx()))
    assert fact.type == ev.CALL_REFUSED
    assert fold(API_CALL, [NewEvent(ev.CALL_REQUESTED, {"method": "GET", "url": "u"}),
                           fact]).status == "refused"


def test_not_sent_puts_the_call_back_to_requested_for_the_next_attempt() -> None:
    call = call_state(NewEvent(ev.CALL_STARTED, {"attempt": 1}),
                      NewEvent(ev.CALL_NOT_SENT, {"attempt": 1}))
    assert (call.status, call.attempts) == ("requested", 1)
    assert events_of(decide_begin(call, BeginCall(call_id="x-1"), ctx())) == [
        NewEvent(ev.CALL_STARTED, {"attempt": 2})]


def test_only_an_unknown_outcome_is_resolved_and_retry_carries_the_request() -> None:
    unknown = call_state(NewEvent(ev.CALL_STARTED, {"attempt": 1}),
                         NewEvent(ev.CALL_UNKNOWN, {"attempt": 1, "reason": "r"}))
    retry = ResolveCall(call_id="x-1", outcome="retry", reason="nothing arrived")
    [fact] = events_of(decide_resolve(unknown, retry, ctx(actor="user:sam")))
    assert fact.type == ev.CALL_RETRY
    assert fact.payload == {"by": "user:sam", "reason": "nothing arrived", "method": "GET",
                            "url": "https://api.example.org/x", "body": None}
    said = ResolveCall(call_id="x-1", outcome="succeeded", reason="it arrived")
    [resolved] = events_of(decide_resolve(unknown, said, ctx(actor="user:sam")))
    assert fold(API_CALL, [NewEvent(ev.CALL_REQUESTED, {"method": "GET", "url": "u"}),
                           resolved]).status == "completed"
    assert isinstance(decide_resolve(call_state(), said, ctx()), Rejection)


def test_a_domain_settles_only_with_a_command_of_that_aggregate() -> None:
    domain = build_domain()
    [settles] = domain.settles
    assert (settles.aggregate, settles.command) == (API_CALL.name, "api.resolve")
    for wrong in (Settles(aggregate=API_CALL.name, command="api.nope", id_field="call_id"),
                  Settles(aggregate=MEMORY.name, command="api.resolve", id_field="call_id")):
        with pytest.raises(DomainError, match="settles"):
            dataclasses.replace(domain, settles=(wrong,))
