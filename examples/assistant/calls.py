"""Outside HTTP calls as commands, following the gateway's protocol.

`call_api` (an agent's proposal) only decides the call: `api_call.requested`.
The call itself is made later by the relay's consumer (`consumer.py`), which
records every step as a fact through these service commands:

- `api.begin`: committed before the request goes out. On a call that is
  `requested` it is `api_call.started` (attempt n); on one already
  `started` — an earlier attempt died mid-call and may have reached the
  endpoint — it is `api_call.outcome_unknown`, never a second request. So
  a redelivered event cannot call an endpoint twice, whatever crashed where.
- `api.record`: what came of attempt n (completed, failed, not sent,
  refused by the allow-list); a late or repeated record changes nothing.
- `api.resolve`: a person settles an unknown outcome (succeeded, failed) or
  asks for one more attempt (retry); only people may (`policy.toml`).

Handlers decide from the call's state alone, so each of these is safe to
propose twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any, Final, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator

from signoff.examples.assistant import events as ev
from signoff.examples.assistant.state import API_CALL, ApiCall
from signoff.server import CommandType, DecideContext, NewEvent, Rejection

Decision = Sequence[NewEvent] | Rejection
CallId = Annotated[str, Field(min_length=1, max_length=64, description="The call's id.")]
# What a recorded answer may hold at most: the fact stays well inside a proposal.
MAX_RECORDED_BODY: Final = 8 * 1024


class CallApi(BaseModel):
    model_config = ConfigDict(extra="forbid")
    method: Literal["GET", "POST"] = "GET"
    url: str = Field(min_length=1, max_length=2000, description=(
        "An http(s) URL on an allow-listed endpoint (scheme, host and port)."))
    body: dict[str, Any] | None = Field(default=None, description="JSON body of a POST.")

    @field_validator("url")
    @classmethod
    def _http_url(cls, url: str) -> str:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("must be an http:// or https:// URL with a host")
        if parts.username or parts.password:
            raise ValueError("must not carry a user or password")
        return url


class BeginCall(BaseModel):
    model_config = ConfigDict(extra="forbid")
    call_id: CallId


class RecordCall(BaseModel):
    model_config = ConfigDict(extra="forbid")
    call_id: CallId
    attempt: int = Field(ge=0, description="The attempt this is the outcome of (0: none made).")
    outcome: Literal["completed", "failed", "not_sent", "refused", "outcome_unknown"]
    reason: str = Field(default="", max_length=1000)
    status_code: int | None = None
    content_type: str = Field(default="", max_length=200)
    body: str = Field(default="", max_length=MAX_RECORDED_BODY)
    truncated: bool = False


class ResolveCall(BaseModel):
    model_config = ConfigDict(extra="forbid")
    call_id: CallId
    outcome: Literal["succeeded", "failed", "retry"]
    reason: str = Field(min_length=1, max_length=1000)


def _missing(call_id: str, call: ApiCall) -> Rejection | None:
    return None if call.exists else Rejection(f"api call {call_id} not found")


def decide_call(_call: ApiCall, p: CallApi, _ctx: DecideContext) -> Decision:
    return [NewEvent(ev.CALL_REQUESTED, {"method": p.method, "url": p.url, "body": p.body})]


def decide_begin(call: ApiCall, _p: BeginCall, ctx: DecideContext) -> Decision:
    missing = _missing(ctx.aggregate_id, call)
    if missing is not None:
        return missing
    if call.status == "requested":
        return [NewEvent(ev.CALL_STARTED, {"attempt": call.attempts + 1})]
    if call.status == "started":
        return [NewEvent(ev.CALL_UNKNOWN, {"attempt": call.attempts, "reason": (
            f"attempt {call.attempts} was under way when signoff stopped; the endpoint may "
            "or may not have received it, so it is not sent again: a person resolves it")})]
    return Rejection(f"api call {ctx.aggregate_id} is {call.status}; nothing to start")


_RECORDED: Final = {"completed": ev.CALL_COMPLETED, "failed": ev.CALL_FAILED,
                    "not_sent": ev.CALL_NOT_SENT, "refused": ev.CALL_REFUSED,
                    "outcome_unknown": ev.CALL_UNKNOWN}


def decide_record(call: ApiCall, p: RecordCall, ctx: DecideContext) -> Decision:
    missing = _missing(ctx.aggregate_id, call)
    if missing is not None:
        return missing
    # A refusal is decided before anything is sent; every other outcome
    # belongs to the attempt under way, and to no other.
    current = (call.status == "requested" and p.outcome == "refused" and p.attempt == 0) or (
        call.status == "started" and p.attempt == call.attempts)
    if not current:
        return Rejection(f"api call {ctx.aggregate_id} is {call.status} (attempt "
                         f"{call.attempts}); an outcome of attempt {p.attempt} changes nothing")
    fact = p.model_dump(exclude={"call_id", "outcome"})
    return [NewEvent(_RECORDED[p.outcome], fact)]


def decide_resolve(call: ApiCall, p: ResolveCall, ctx: DecideContext) -> Decision:
    missing = _missing(ctx.aggregate_id, call)
    if missing is not None:
        return missing
    if call.status != "outcome_unknown":
        return Rejection(f"api call {ctx.aggregate_id} is {call.status}; only a call whose "
                         "outcome is unknown can be resolved")
    said = {"by": ctx.actor.id, "reason": p.reason}
    if p.outcome == "retry":  # the request again, for the consumer that will send it
        return [NewEvent(ev.CALL_RETRY, {**said, "method": call.method, "url": call.url,
                                         "body": call.body})]
    return [NewEvent(ev.CALL_RESOLVED, {"outcome": p.outcome, **said})]


CALL: Final = CommandType[CallApi, ApiCall](
    name="api.call", tool="call_api", payload=CallApi, aggregate=API_CALL, decide=decide_call,
    description="Call an allow-listed HTTP endpoint once. A proposal: once executed, the relay "
    "makes the call and records the answer; read it with get_api_call (the receipt's "
    "aggregate_id is the call id).",
    summary=lambda p: f"{p.method} {p.url}", review_fields=("method", "url", "body"),
)
BEGIN: Final = CommandType[BeginCall, ApiCall](
    name="api.begin", tool="begin_api_call", payload=BeginCall, aggregate=API_CALL,
    decide=decide_begin, target=lambda p: p.call_id,
    description="Record that an api call is about to be sent. Proposed only by the call "
    "service (service:api-caller); the policy allows it to services alone.",
    summary=lambda p: f"Start api call {p.call_id}",
)
RECORD: Final = CommandType[RecordCall, ApiCall](
    name="api.record", tool="record_api_call", payload=RecordCall, aggregate=API_CALL,
    decide=decide_record, target=lambda p: p.call_id,
    description="Record what came of an api call. Proposed only by the call service.",
    summary=lambda p: f"Record api call {p.call_id}: {p.outcome}",
)
RESOLVE: Final = CommandType[ResolveCall, ApiCall](
    name="api.resolve", tool="resolve_api_call", payload=ResolveCall, aggregate=API_CALL,
    decide=decide_resolve, target=lambda p: p.call_id,
    description="Say what happened to an api call whose outcome is unknown (succeeded, "
    "failed), or ask for one more attempt (retry). People only.",
    summary=lambda p: f"Resolve api call {p.call_id}: {p.outcome}",
    review_fields=("outcome", "reason"),
)

CALL_COMMANDS: Final = (CALL, BEGIN, RECORD, RESOLVE)
