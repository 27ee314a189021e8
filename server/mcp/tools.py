"""The MCP tools: one per domain query, one per command, and get_proposal.

Tool bodies are thin: they call `app.queries.run`, `app.proposals.submit` or
`app.proposals.receipt` and shape the answer. Everything a call has in common
lives in `ToolRunner.call`: who is calling (from the transport), whether they
may use the tool, the run ids from `_meta` (the run derived by `runs.Runs`
when the client sends none), the runtime log entry (with the call's
arguments and result, redacted and bounded: `call_record`), and
turning any crash into "internal error, reference <id>" (the traceback goes to
stderr, never to the model).

Arguments are validated by signoff, not by the SDK: the SDK would answer a
bad argument with bare text, while a command tool must answer every refusal
with a structured receipt the model can act on. `arguments.argument_problems`
checks them strictly against the published schema first; the application
then validates what it means.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from mcp.server.mcpserver import Context
from mcp_types import CallToolResult, InputRequiredResult, TextContent, ToolAnnotations
from mcp_types import Tool as MCPTool
from pydantic import BaseModel, ValidationError
from pydantic_core import from_json

from signoff.policies import PrincipalFacts
from signoff.server.app import App
from signoff.server.domain import CommandType, Domain, QueryType
from signoff.server.errors import Forbidden, InvalidInput, NotFound
from signoff.server.mcp import schemas
from signoff.server.mcp.arguments import argument_problems, schema_problems
from signoff.server.mcp.call_record import ToolCall
from signoff.server.mcp.confirmation import submit_with_confirmation
from signoff.server.mcp.identity import Identity
from signoff.server.mcp.runs import RunOf, Runs, call_context, connection_of_request, meta_of
from signoff.server.mcp.runtime_log import RuntimeLogWriter
from signoff.server.observability import domain_sensitive_fields, tool_span
from signoff.server.services.proposals import CallContext, problems_of
from signoff.server.services.receipts import FieldProblem, Receipt, refusal
from signoff.server.services.registry import CommandRegistry

log = logging.getLogger("signoff.mcp")

ToolKind = Literal["query", "command"]


@dataclass(frozen=True)
class Answer:
    # InputRequiredResult: the 2026-07-28 protocol's way of asking the
    # requester mid-call (requester confirmation); the SDK sends it on.
    result: CallToolResult | InputRequiredResult
    outcome: str
    proposal_id: str | None = None


Invoke = Callable[
    [App, PrincipalFacts, dict[str, Any], CallContext, Context[Any, Any]], Awaitable[Answer]
]


@dataclass(frozen=True)
class ToolSpec:
    """A tool: its arguments are described by a model (a domain's tools) or,
    where a model has none, by `input_schema` (a gateway tool's pinned one);
    `output` None publishes no output schema (an upstream's answer as is)."""

    name: str
    kind: ToolKind
    description: str
    arguments: type[BaseModel] | None
    output: type[BaseModel] | None
    annotations: ToolAnnotations
    permits: Callable[[App, PrincipalFacts], bool]
    invoke: Invoke
    command_type: str | None = None
    input_schema: Mapping[str, Any] | None = None
    meta: Mapping[str, Any] | None = None

    def published_input(self) -> dict[str, Any]:
        if self.input_schema is not None:
            return dict(self.input_schema)
        assert self.arguments is not None, self.name
        return schemas.input_schema(self.arguments)

    def problems(self, arguments: Mapping[str, Any]) -> list[FieldProblem]:
        if self.input_schema is not None:
            return schema_problems(self.input_schema, arguments)
        assert self.arguments is not None, self.name
        return argument_problems(self.arguments, arguments)


# --- results ------------------------------------------------------------------


def _wire(model: BaseModel) -> str:
    return model.wire() if isinstance(model, Receipt) else model.model_dump_json()


def data_result(model: BaseModel) -> CallToolResult:
    """Structured content, and the same JSON as text for clients that read
    only text (Claude Desktop gives the model the text): one dump, read back."""
    text = _wire(model)
    return CallToolResult(content=[TextContent(type="text", text=text)],
                          structured_content=from_json(text))


def error_result(message: str) -> CallToolResult:
    return CallToolResult(content=[TextContent(type="text", text=message)], is_error=True)


def receipt_result(receipt: Receipt) -> CallToolResult:
    """A receipt, refusal or not: one line to act on, then the receipt itself."""
    if receipt.is_error:
        problems = "; ".join(f"{p.field}: {p.problem}" for p in receipt.problems)
        line = f"Refused ({receipt.outcome}): {receipt.reason}"
        line += f" [{problems}]" if problems else ""
    else:
        line = f"Proposal {receipt.proposal_id} is {receipt.status} ({receipt.outcome})."
    text = receipt.wire()
    return CallToolResult(
        content=[TextContent(type="text", text=f"{line} Next: {receipt.next}"),
                 TextContent(type="text", text=text)],
        structured_content=from_json(text), is_error=receipt.is_error)


def _problem_text(problems: list[FieldProblem]) -> str:
    return "invalid arguments: " + "; ".join(f"{p.field}: {p.problem}" for p in problems)


def refused(spec: ToolSpec, outcome: Literal["rejected", "validation_error"], reason: str,
            problems: list[FieldProblem] | None = None) -> CallToolResult:
    """A refusal before the tool ran: a receipt for command tools, text for queries."""
    if spec.command_type is not None:
        return receipt_result(refusal(spec.command_type, outcome, reason, problems=problems))
    return error_result(_problem_text(problems) if problems else reason)


# --- tool bodies ----------------------------------------------------------------


def _query_invoke(query: QueryType[Any, Any]) -> Invoke:
    async def invoke(app: App, principal: PrincipalFacts, arguments: dict[str, Any],
                     call: CallContext, ctx: Context[Any, Any]) -> Answer:
        try:
            result = await app.queries.run(principal, query.name, arguments)
        except NotFound as exc:
            return Answer(error_result(exc.message), "not_found")
        except InvalidInput as exc:
            problems = [FieldProblem.model_validate(d) for d in exc.details]
            return Answer(error_result(_problem_text(problems)), "validation_error")
        except Forbidden as exc:
            return Answer(error_result(f"not permitted: {exc.message}"), "forbidden")
        return Answer(data_result(result), "ok")

    return invoke


def _command_invoke(command: CommandType[Any, Any]) -> Invoke:
    async def invoke(app: App, principal: PrincipalFacts, arguments: dict[str, Any],
                     call: CallContext, ctx: Context[Any, Any]) -> Answer:
        # A rule with confirm = "requester" asks the human proposer in their
        # client; on the 2026-07-28 protocol the retried call resumes here.
        receipt = await submit_with_confirmation(
            ctx, app, principal,
            lambda: app.proposals.submit(principal, command.name, arguments, call))
        if isinstance(receipt, InputRequiredResult):
            return Answer(receipt, "input_required")
        return Answer(receipt_result(receipt), receipt.outcome, receipt.proposal_id)

    return invoke


async def _get_proposal(app: App, principal: PrincipalFacts, arguments: dict[str, Any],
                        call: CallContext, ctx: Context[Any, Any]) -> Answer:
    try:
        args = schemas.GetProposalArgs.model_validate(arguments)
    except ValidationError as exc:
        return Answer(error_result(_problem_text(problems_of(exc))), "validation_error")
    receipt = await app.proposals.receipt(principal, args.proposal_id)
    if receipt is None:  # absent and another tenant's look the same
        return Answer(error_result(f"proposal {args.proposal_id} not found"), "not_found")
    return Answer(data_result(receipt), "ok", receipt.proposal_id)


def _may_query(tool: str) -> Callable[[App, PrincipalFacts], bool]:
    return lambda app, principal: app.gate().policy.may_query(principal, tool)


def _may_propose(command_type: str) -> Callable[[App, PrincipalFacts], bool]:
    return lambda app, principal: app.gate().may_propose(principal, command_type)


def tool_specs(domain: Domain, commands: CommandRegistry) -> list[ToolSpec]:
    """Every query, get_proposal, every command the registry holds that a
    model describes (the gateway's are listed per tenant, as their upstreams
    list them: `gateway_tools`), then withdraw_proposal."""
    specs = [
        ToolSpec(q.name, "query", schemas.query_description(q), q.args, q.result,
                 schemas.QUERY_ANNOTATIONS, _may_query(q.name), _query_invoke(q))
        for q in domain.queries
    ]
    specs.append(ToolSpec(
        schemas.GET_PROPOSAL, "query", schemas.GET_PROPOSAL_DESCRIPTION,
        schemas.GetProposalArgs, Receipt, schemas.QUERY_ANNOTATIONS,
        _may_query(schemas.GET_PROPOSAL), _get_proposal))
    specs += [
        ToolSpec(c.tool, "command", schemas.command_description(c), schemas.command_arguments(c),
                 Receipt, schemas.COMMAND_ANNOTATIONS, _may_propose(c.name),
                 _command_invoke(c), command_type=c.name)
        for c in commands if c.input_schema is None
    ]
    from signoff.server.mcp.withdraw import withdraw_spec  # it builds on this module

    specs.append(withdraw_spec())
    return specs


# --- the common path of every call ---------------------------------------------------


class ToolRunner:
    def __init__(self, app: App, identity: Identity, runtime_log: RuntimeLogWriter,
                 runs: Runs | None = None) -> None:
        self._app = app
        self._identity = identity
        self._log = runtime_log
        self._runs = runs or Runs(app.clock, app.ids)
        self._sensitive = domain_sensitive_fields(app.domain)

    def permits(self, spec: ToolSpec, principal: PrincipalFacts) -> bool:
        return spec.permits(self._app, principal)

    async def call(self, spec: ToolSpec, arguments: dict[str, Any], context: Context[Any, Any],
                   principal: PrincipalFacts | None) -> CallToolResult | InputRequiredResult:
        """Run one call of `spec` by `principal`, whom the transport named
        (`identity.current()`, resolved once per request by the server)."""
        started = time.perf_counter()
        if principal is None:
            return refused(spec, "rejected", "not permitted: no authenticated caller")
        meta = meta_of(context)
        call, problems = call_context(meta)
        run = self._runs.of(call, meta, connection_of_request(context), principal)
        call = run.call
        if not self.permits(spec, principal):
            answer = Answer(refused(spec, "rejected", f"not permitted: {principal.id} may not "
                                    f"use {spec.name} in tenant {principal.tenant}"), "forbidden")
        elif problems:
            answer = Answer(refused(spec, "validation_error", "invalid _meta", problems),
                            "validation_error")
        elif problems := spec.problems(arguments):
            answer = Answer(refused(spec, "validation_error", "invalid arguments", problems),
                            "validation_error")
        else:
            with tool_span(spec.name, principal_id=principal.id, tenant_id=principal.tenant,
                           correlation_id=call.correlation_id, run_id=call.run_id,
                           kind=spec.kind):
                answer = await self._invoke(spec, principal, arguments, call, context)
        self._record(spec, principal, arguments, run, answer, time.perf_counter() - started)
        return answer.result

    async def _invoke(self, spec: ToolSpec, principal: PrincipalFacts, arguments: dict[str, Any],
                      call: CallContext, context: Context[Any, Any]) -> Answer:
        try:
            return await spec.invoke(self._app, principal, arguments, call, context)
        except Exception:
            reference = uuid.uuid4().hex[:12]
            log.exception("internal error %s in tool %s", reference, spec.name)
            return Answer(error_result(f"internal error, reference {reference}"),
                          "internal_error")

    def _record(self, spec: ToolSpec, principal: PrincipalFacts, arguments: dict[str, Any],
                run: RunOf, answer: Answer, seconds: float) -> None:
        # Redacting, bounding and digesting wait for the flush (call_record).
        self._log.record(ToolCall(
            self._app.ids("rt"), principal.tenant, principal.id, spec.name, spec.kind,
            answer.outcome, round(seconds * 1000, 3), run.call.run_id, run.source,
            run.call.correlation_id, answer.proposal_id, self._app.clock(), arguments,
            answer.result, self._sensitive))


def make_tool(spec: ToolSpec) -> MCPTool:
    """What tools/list shows of a tool: the published input schema is the
    argument model's, the output schema the result model's."""
    return MCPTool(
        name=spec.name, title=spec.name.replace("_", " ").capitalize(),
        description=spec.description, input_schema=spec.published_input(),
        output_schema=schemas.output_schema(spec.output) if spec.output else None,
        annotations=spec.annotations, meta=dict(spec.meta) if spec.meta else None,
    )
