"""A proposal, seen as a task (SPEC.md, "Pending proposals in the protocol").

Pure: takes the proposal's receipt and review view as they stand, and the
requester's confirmation question when one is open, and says what the task
is. The task id is the proposal id, so the task is the proposal: it survives
a restart and has no state of its own.

- waiting for reviewers, approved, or its upstream call under way: `working`,
  the status message naming what it waits for;
- the requester may confirm it: `input_required`, the question in
  `inputRequests` (answered with `tasks/update`);
- executed: `completed`, the receipt as the tool result;
- rejected, expired, in conflict, failed, of unknown outcome: `completed`,
  the receipt as an `isError` tool result (the call's answer is a refusal;
  the task itself did not fail, so never `failed`, which the extension keeps
  for JSON-RPC errors);
- withdrawn: `cancelled`.

`ttlMs` runs from the proposal's creation to its approval deadline (null:
no deadline); tasks/get answers after it too, since the proposal is kept.
"""

from __future__ import annotations

from datetime import datetime

from mcp_types import ElicitRequest

from signoff.server.mcp.task_wire import CreateTaskResult, GetTaskResult, Task
from signoff.server.mcp.tools import receipt_result
from signoff.server.services.receipts import Receipt
from signoff.server.services.review_views import ProposalView

WAITING = frozenset({"pending_approval", "approved", "executing"})
CONFIRM_KEY = "signoff.requester_confirmation"


def timestamp(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")


def ttl_ms(view: ProposalView) -> int | None:
    if view.expires_at is None:
        return None
    return max(int((view.expires_at - view.created_at).total_seconds() * 1000), 0)


def waiting_for(view: ProposalView, now: datetime) -> str:
    """What a waiting proposal waits for, in a line a model or person reads."""
    if view.status == "approved":
        return "approved; waiting for it to be executed"
    if view.status == "executing":
        return "approved; waiting for the upstream call to finish"
    if view.expires_at is not None and view.expires_at <= now:
        return "its approval deadline passed; it is about to be marked expired"
    needed = view.still_needed.removeprefix("nothing: ")
    deadline = f" before {view.expires_at:%Y-%m-%d %H:%M} UTC" if view.expires_at else ""
    return f"waiting for {needed}{deadline}"


def _base(view: ProposalView, poll_interval_ms: int) -> dict[str, object]:
    return {"task_id": view.proposal_id, "created_at": timestamp(view.created_at),
            "last_updated_at": timestamp(view.updated_at), "ttl_ms": ttl_ms(view),
            "poll_interval_ms": poll_interval_ms}


def task_of(receipt: Receipt, view: ProposalView, *, now: datetime, poll_interval_ms: int,
            confirmation: ElicitRequest | None = None) -> GetTaskResult:
    """The `tasks/get` answer for this proposal."""
    base = _base(view, poll_interval_ms)
    if view.status == "withdrawn":
        return GetTaskResult.model_validate(
            {**base, "status": "cancelled", "status_message": receipt.reason})
    if view.status in WAITING:
        message = waiting_for(view, now)
        if confirmation is not None:
            return GetTaskResult.model_validate({
                **base, "status": "input_required",
                "status_message": f"{message}, or for your confirmation",
                "input_requests": {CONFIRM_KEY: confirmation}})
        return GetTaskResult.model_validate(
            {**base, "status": "working", "status_message": message})
    result = receipt_result(receipt)
    # Only executed is a success; every other final status is a refusal to act on.
    result = result.model_copy(update={"is_error": view.status != "executed"})
    return GetTaskResult.model_validate({
        **base, "status": "completed", "status_message": f"proposal {view.status}",
        "result": result.model_dump(by_alias=True, mode="json", exclude_none=True)})


def created(task: Task) -> CreateTaskResult:
    """The same task as the handle `tools/call` answers with (no payload
    fields: the result and questions come with tasks/get)."""
    fields = task.model_dump(include=set(Task.model_fields) - {"meta"})
    return CreateTaskResult.model_validate(fields)
