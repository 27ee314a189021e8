"""The MCP Tasks extension: a proposal that waits answers with a task.

On the SDK's public `Extension` API (`mcp.server.extension`): the server
advertises `io.modelcontextprotocol/tasks`, serves `tasks/get`,
`tasks/update` and `tasks/cancel`, and its `tools/call` interceptor turns a
command tool's receipt into a task handle when the proposal still waits
(pending approval, approved, executing). Only on the 2026-07-28 protocol and
only for a request whose client capabilities declare the extension; every
other call answers exactly as before (a receipt). Wire shapes: `task_wire`;
status mapping: `task_status`.

The task id is the proposal id, so a task needs no store of its own and
survives a restart. Each task request is authorized afresh: the caller is
the principal of that request, the task is looked up within its tenant (any
other tenant's id is "not found", as with get_proposal), and only principals
who may use get_proposal see tasks at all.

- `tasks/update` carries the requester's confirmation (a rule with
  `confirm = "requester"`, asked of the human proposer whose client can show
  form elicitations) - on this path the question is asked through the
  task's `inputRequests` instead of the tool call's own input round. Any
  answer settles the question for good (the extension forbids asking under
  the same key again): a tick confirms, anything else (decline, unticked,
  dismissed) is recorded as a decline and leaves it to the reviewers.
- `tasks/cancel` by the proposer withdraws an unapproved proposal; any other
  cancel is acknowledged and leaves the task as it is (cancellation is
  cooperative in the extension).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from contextlib import suppress
from typing import Any

from mcp.server import Server
from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp.server.elicitation import render_elicitation_schema
from mcp.server.extension import Extension, MethodBinding, RequestHandler
from mcp.server.extension import compose_tool_call_handler as compose
from mcp.server.mcpserver import require_client_extension
from mcp.shared.exceptions import MCPError
from mcp_types import (
    INVALID_PARAMS,
    METHOD_NOT_FOUND,
    CallToolRequestParams,
    CallToolResult,
    ElicitRequest,
    ElicitRequestFormParams,
    ElicitResult,
    InputRequiredResult,
)
from mcp_types.version import MODERN_PROTOCOL_VERSIONS
from pydantic import ValidationError

from signoff.policies import PrincipalFacts
from signoff.server.app import App
from signoff.server.errors import SignoffError
from signoff.server.mcp.confirmation import (
    STATE_PREFIX,
    Confirmation,
    confirmation_message,
    wants_confirmation,
)
from signoff.server.mcp.identity import Identity
from signoff.server.mcp.schemas import GET_PROPOSAL
from signoff.server.mcp.task_status import CONFIRM_KEY, WAITING, created, task_of
from signoff.server.mcp.task_wire import (
    EXTENSION_ID,
    GetTaskResult,
    TaskAck,
    TaskParams,
    UpdateTaskParams,
    wire,
)
from signoff.server.mcp.withdraw import withdrawals
from signoff.server.services.receipts import Receipt
from signoff.server.services.review_views import ProposalView

DEFAULT_POLL_INTERVAL_MS = 5000
DECLINED = "proposal.confirmation_declined"


class TasksExtension(Extension):
    identifier = EXTENSION_ID

    def __init__(self, app: App, identity: Identity, *,
                 poll_interval_ms: int = DEFAULT_POLL_INTERVAL_MS) -> None:
        if poll_interval_ms < 0:
            raise ValueError("poll_interval_ms must be at least 0")
        self._app = app
        self._identity = identity
        self._poll_ms = poll_interval_ms

    def methods(self) -> Sequence[MethodBinding]:
        modern = frozenset(MODERN_PROTOCOL_VERSIONS)
        return [MethodBinding("tasks/get", TaskParams, self._get, modern),
                MethodBinding("tasks/update", UpdateTaskParams, self._update, modern),
                MethodBinding("tasks/cancel", TaskParams, self._cancel, modern)]

    # --- tools/call ------------------------------------------------------------

    async def intercept_tool_call(self, params: CallToolRequestParams,
                                  ctx: ServerRequestContext[Any, Any],
                                  call_next: CallNext) -> HandlerResult:
        result = await call_next(ctx)
        if not _declared(ctx) or self._app.commands.by_tool(params.name) is None:
            return result
        principal = self._identity.current()
        if principal is None:
            return result
        proposal_id = _waiting_proposal(result)
        if proposal_id is None:
            return result
        task = await self._task(ctx, principal, proposal_id)
        if task is None or task.status not in ("working", "input_required"):
            return result  # settled meanwhile: the receipt says it all
        return wire(created(task))

    # --- tasks/* ---------------------------------------------------------------

    async def _get(self, ctx: ServerRequestContext[Any, Any], params: TaskParams
                   ) -> dict[str, Any]:
        principal = self._caller(ctx)
        task = await self._task(ctx, principal, params.task_id)
        if task is None:
            raise _not_found()
        return wire(task)

    async def _update(self, ctx: ServerRequestContext[Any, Any], params: UpdateTaskParams
                      ) -> TaskAck:
        principal = self._caller(ctx)
        found = await self._standing(principal, params.task_id)
        if found is None:
            raise _not_found()
        _, view = found
        answer = params.input_responses.get(CONFIRM_KEY)
        # Answers to anything but the open question are ignored, as the extension says.
        if isinstance(answer, ElicitResult) and await self._question(ctx, principal, view):
            accepted = answer.action == "accept" and _ticked(answer)
            # Decided, expired or changed meanwhile: tasks/get shows what it is.
            with suppress(SignoffError):
                await self._app.approvals.confirm_as_requester(
                    principal, view.proposal_id, accept=accepted, digest=view.payload_digest)
        return TaskAck()

    async def _cancel(self, ctx: ServerRequestContext[Any, Any], params: TaskParams
                      ) -> TaskAck:
        principal = self._caller(ctx)
        found = await self._standing(principal, params.task_id)
        if found is None:
            raise _not_found()
        _, view = found
        if view.proposer.id == principal.id and view.status == "pending_approval":
            with suppress(SignoffError):  # approved, or expired: it goes on as it is
                await withdrawals(self._app).withdraw(
                    principal, view.proposal_id, reason="cancelled as a task (tasks/cancel)")
        return TaskAck()

    # --- reading a proposal as a task -------------------------------------------

    def _caller(self, ctx: ServerRequestContext[Any, Any]) -> PrincipalFacts:
        require_client_extension(ctx, EXTENSION_ID)
        principal = self._identity.current()
        if principal is None:
            raise _not_found()
        return principal

    async def _standing(self, principal: PrincipalFacts, proposal_id: str
                        ) -> tuple[Receipt, ProposalView] | None:
        if not self._app.gate().policy.may_query(principal, GET_PROPOSAL):
            return None
        receipt = await self._app.proposals.receipt(principal, proposal_id)
        view = await self._app.reviews.view(proposal_id, principal.tenant)
        if receipt is None or view is None:
            return None
        return receipt, view

    async def _task(self, ctx: ServerRequestContext[Any, Any], principal: PrincipalFacts,
                    proposal_id: str) -> GetTaskResult | None:
        found = await self._standing(principal, proposal_id)
        if found is None:
            return None
        receipt, view = found
        return task_of(receipt, view, now=self._app.clock(), poll_interval_ms=self._poll_ms,
                       confirmation=await self._question(ctx, principal, view))

    async def _question(self, ctx: ServerRequestContext[Any, Any], principal: PrincipalFacts,
                        view: ProposalView) -> ElicitRequest | None:
        """The requester's confirmation, while it may be asked and is unanswered."""
        if not wants_confirmation(view, principal) or not _can_elicit(ctx):
            return None
        if any(vote.voter_id == principal.id for vote in view.votes):
            return None
        trail = await self._app.store.read(lambda uow: uow.proposals.events(view.proposal_id))
        if any(e.event_type == DECLINED and e.actor_id == principal.id for e in trail):
            return None
        return ElicitRequest(params=ElicitRequestFormParams(
            message=confirmation_message(view),
            requested_schema=render_elicitation_schema(Confirmation)))


def install(server: Server[Any], extension: Extension, call_tool: RequestHandler) -> None:
    """Apply `extension` to a low-level server as `MCPServer(extensions=...)`
    applies one: advertise it, serve its methods (each only at its protocol
    versions), and wrap `call_tool` in its interceptor."""
    for binding in extension.methods():
        server.add_request_handler(binding.method, binding.params_type, _gated(binding))
    server.extensions[extension.identifier] = extension.settings()
    server.add_request_handler("tools/call", CallToolRequestParams,
                               compose([extension], call_tool))


def _gated(binding: MethodBinding) -> RequestHandler:
    async def handler(ctx: ServerRequestContext[Any, Any], params: Any) -> HandlerResult:
        versions = binding.protocol_versions
        if versions is not None and ctx.protocol_version not in versions:
            raise MCPError(code=METHOD_NOT_FOUND, message="Method not found",
                           data=binding.method)
        return await binding.handler(ctx, params)

    return handler


def _declared(ctx: ServerRequestContext[Any, Any]) -> bool:
    """This request's client declared the extension, on the 2026-07-28 protocol."""
    capabilities = ctx.session.client_capabilities
    extensions = capabilities.extensions if capabilities else None
    return ctx.protocol_version in MODERN_PROTOCOL_VERSIONS and bool(
        extensions and EXTENSION_ID in extensions)


def _can_elicit(ctx: ServerRequestContext[Any, Any]) -> bool:
    """Form elicitation declared (a bare `elicitation: {}` counts, as in the SDK)."""
    capabilities = ctx.session.client_capabilities
    elicitation = capabilities.elicitation if capabilities else None
    return elicitation is not None and (elicitation.form is not None or elicitation.url is None)


def _waiting_proposal(result: HandlerResult) -> str | None:
    """The proposal a command tool's answer leaves waiting, if any: a receipt
    still pending, or the requester's confirmation asked mid-call."""
    if isinstance(result, InputRequiredResult):
        state = result.request_state or ""
        if not state.startswith(STATE_PREFIX):
            return None
        try:
            return str(json.loads(state[len(STATE_PREFIX):])["proposal"])
        except (ValueError, KeyError, TypeError):
            return None
    if not isinstance(result, CallToolResult) or result.is_error:
        return None
    status = (result.structured_content or {}).get("status")
    if status not in WAITING:  # settled: not worth reading the whole receipt
        return None
    try:
        receipt = Receipt.model_validate(result.structured_content)
    except ValidationError:
        return None
    return receipt.proposal_id if receipt.status in WAITING else None


def _ticked(answer: ElicitResult) -> bool:
    try:
        return Confirmation.model_validate(answer.content or {}).confirm
    except ValidationError:
        return False


def _not_found() -> MCPError:
    return MCPError(code=INVALID_PARAMS, message="Failed to retrieve task: Task not found")
