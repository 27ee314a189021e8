"""The gateway's tools on signoff's MCP surface, per tenant.

A tenant sees, of each upstream that serves it, only the pinned tools whose
digest the upstream lists now (`GatewayRuntime.exposed`):

- a read tool passes through: the upstream's arguments and answer (content,
  structuredContent, isError), bounded and redacted; allowed by the policy's
  `[queries]` like any query tool; logged in the runtime log;
- a propose tool records a proposal of `tool.<upstream>.<tool>`: the pinned
  input schema plus signoff's proposal arguments, signoff's own annotations
  (not read-only, not destructive, idempotent by key), the upstream's claimed
  annotations only under `_meta`. An allowed call waits a bounded time for
  the upstream's answer and returns it in the receipt; otherwise the receipt
  says `executing` and `get_proposal` has the result when it is there.
"""

from __future__ import annotations

import copy
from typing import Any

import anyio
from mcp.server.mcpserver import Context
from mcp_types import CallToolResult, ToolAnnotations

from signoff.policies import PrincipalFacts
from signoff.server.app import App
from signoff.server.gateway import GatewayRuntime, PinnedTool
from signoff.server.mcp import schemas
from signoff.server.mcp.tools import Answer, Invoke, ToolSpec, error_result, receipt_result
from signoff.server.services.proposals import CallContext, ProposalMeta
from signoff.server.services.receipts import Receipt

# How long an allowed call's tool result waits for the upstream's answer.
INLINE_WAIT_SECONDS = 15.0
# The call is settled by a relay's invoker, in this process or another: the
# wait reads the receipt again when a proposal changes (where the store can
# tell) and at least this often.
POLL_SECONDS = 0.05
META_ARGUMENTS = ("rationale", "evidence_refs", "confidence", "idempotency_key")
READ_ANNOTATIONS = ToolAnnotations(read_only_hint=True, open_world_hint=True)
CLAIMS_KEY = "signoff/upstream_annotations"


def proposal_schema(pinned: PinnedTool) -> dict[str, Any]:
    """The pinned input schema with signoff's proposal arguments added."""
    schema = copy.deepcopy(dict(pinned.input_schema))
    meta = ProposalMeta.model_json_schema()["properties"]
    properties = schema.setdefault("properties", {})
    for name in META_ARGUMENTS:
        properties[name] = {**meta[name], "description": schemas.META_DESCRIPTIONS[name]}
    schema["required"] = [*schema.get("required", []), "confidence"]
    return schema


def _read_invoke(runtime: GatewayRuntime, pinned: PinnedTool) -> Invoke:
    async def invoke(app: App, principal: PrincipalFacts, arguments: dict[str, Any],
                     call: CallContext, ctx: Context[Any, Any]) -> Answer:
        answer = await runtime.read(pinned.upstream, principal.tenant, pinned.name, arguments)
        if answer.kind != "answered" or answer.result is None:
            return Answer(error_result(f"{pinned.upstream} is unavailable: {answer.reason}"),
                          "upstream_unavailable")
        result = CallToolResult.model_validate(answer.result)
        return Answer(result, "error" if result.is_error else "ok")

    return invoke


def _propose_invoke(pinned: PinnedTool, wait: float) -> Invoke:
    async def invoke(app: App, principal: PrincipalFacts, arguments: dict[str, Any],
                     call: CallContext, ctx: Context[Any, Any]) -> Answer:
        receipt = await app.proposals.submit(principal, pinned.command_type, arguments, call)
        if receipt.status == "executing" and receipt.proposal_id is not None:
            receipt = await _settled(app, principal, receipt, wait)
        return Answer(receipt_result(receipt), receipt.outcome, receipt.proposal_id)

    return invoke


async def _settled(app: App, principal: PrincipalFacts, receipt: Receipt, wait: float) -> Receipt:
    """The receipt once the call is settled, or as it stands after `wait`."""
    assert receipt.proposal_id is not None
    changes = app.store.changes()
    with anyio.move_on_after(wait):
        while True:
            current = await app.proposals.receipt(principal, receipt.proposal_id)
            if current is not None and current.status != "executing":
                return current.model_copy(update={"outcome": receipt.outcome})
            await changes.wait(POLL_SECONDS)
    return receipt


def read_spec(runtime: GatewayRuntime, pinned: PinnedTool) -> ToolSpec:
    return ToolSpec(
        pinned.exposed_name, "query", f"[{pinned.upstream}] {pinned.description}".strip(),
        None, None, READ_ANNOTATIONS,
        lambda app, principal: app.gate().policy.may_query(principal, pinned.exposed_name),
        _read_invoke(runtime, pinned), input_schema=dict(pinned.input_schema),
        meta={CLAIMS_KEY: dict(pinned.annotations or {})})


def propose_spec(
    app: App, pinned: PinnedTool, wait: float = INLINE_WAIT_SECONDS
) -> ToolSpec | None:
    command = app.commands.get(pinned.command_type)
    if command is None:
        return None
    return ToolSpec(
        pinned.exposed_name, "command", schemas.command_description(command), None, Receipt,
        schemas.COMMAND_ANNOTATIONS,
        lambda app, principal: app.gate().may_propose(principal, pinned.command_type),
        _propose_invoke(pinned, wait), command_type=pinned.command_type,
        input_schema=proposal_schema(pinned), meta={CLAIMS_KEY: dict(pinned.annotations or {})})


async def gateway_specs(app: App, runtime: GatewayRuntime, tenant: str) -> list[ToolSpec]:
    """This tenant's gateway tools, as the upstreams list them now."""
    specs: list[ToolSpec] = []
    for pinned in await runtime.exposed(tenant):
        spec = read_spec(runtime, pinned) if pinned.exposure == "read" else \
            propose_spec(app, pinned)
        if spec is not None:
            specs.append(spec)
    return specs
