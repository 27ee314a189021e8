"""The relay's consumer that makes each decided `call_api` request once.

For an `api_call.requested` (or `retry_approved`) event, in this order:

1. the allow-list and the address check (`fetch.check`): a refusal is
   recorded (`api.record refused`) and nothing is sent;
2. `api.begin`, committed before anything is sent. Its handler decides from
   the call's state: a fresh `started`, or — when an earlier delivery had
   started it and then died — `outcome_unknown`, and then nothing is sent;
3. the request, once (`fetch.send`);
4. `api.record` with what came back, keyed by the attempt, so proposing it
   again replays the stored receipt.

Not sent (unreachable) is recorded and raised: the relay delivers the event
again later, and the next `api.begin` starts a new attempt. Every fact is
proposed as `service:api-caller`, through the policy and the executor.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Final

from signoff.examples.assistant import events as ev
from signoff.examples.assistant.endpoints import load_endpoints
from signoff.examples.assistant.fetch import Answer, Resolve, check, resolve_host, send
from signoff.server import Consumer, Delivery, Recorded

NAME: Final = "api-caller"
PRINCIPAL: Final = "service:api-caller"


class CallNotMade(RuntimeError):
    """Nothing reached the endpoint this time; the relay tries again later."""


def _request(payload: dict[str, Any]) -> tuple[str, str, dict[str, Any] | None]:
    return str(payload["method"]), str(payload["url"]), payload.get("body")


async def _record(delivery: Delivery, call_id: str, attempt: int, answer: Answer) -> Recorded:
    return await delivery.propose("api.record", {
        "call_id": call_id, "attempt": attempt, "outcome": answer.outcome,
        "reason": answer.reason[:1000], "status_code": answer.status_code,
        "content_type": answer.content_type, "body": answer.body,
        "truncated": answer.truncated,
    }, key=f"record-{attempt}", rationale=answer.reason[:1000])


def _started(recorded: Recorded) -> int | None:
    """The attempt `api.begin` started, if it started one."""
    if recorded.status == "rejected":
        return None  # settled already: nothing to do
    if recorded.status != "executed":
        raise CallNotMade(f"api.begin was {recorded.status}: {recorded.reason}")
    started = [e for e in recorded.events if e.type == ev.CALL_STARTED]
    return int(started[0].payload["attempt"]) if started else None


def call_handler(resolve: Resolve = resolve_host) -> Callable[[Delivery], Awaitable[None]]:
    async def handle(delivery: Delivery) -> None:
        call_id = delivery.event.aggregate_id
        method, url, body = _request(delivery.event.payload)
        target = await check(url, load_endpoints(delivery.folder), resolve)
        if isinstance(target, Answer) and target.outcome == "refused":
            refused = await _record(delivery, call_id, 0, target)
            if refused.status == "executed":
                return
        begun = _started(await delivery.propose("api.begin", {"call_id": call_id}))
        if begun is None:
            return
        answer = target if isinstance(target, Answer) else await send(target, method, url, body)
        await _record(delivery, call_id, begun, answer)
        if answer.outcome == "not_sent":
            raise CallNotMade(answer.reason)

    return handle


def api_caller(resolve: Resolve = resolve_host) -> Consumer:
    return Consumer(name=NAME, topics=frozenset({ev.CALL_REQUESTED, ev.CALL_RETRY}),
                    handle=call_handler(resolve), principal=PRINCIPAL, timeout=70.0)
