"""`signoff trace ID`: the causal chain of a proposal or a correlation id."""

from __future__ import annotations

import json
from typing import Annotated, Any

import anyio
import typer
from rich.tree import Tree

from signoff.server.cli.common import (
    JsonOption,
    escape,
    fail,
    json_lines,
    open_app,
    out,
)
from signoff.server.cli.settings import (
    DbFlag,
    DomainFlag,
    GatewayFlag,
    PolicyFlag,
    PrincipalsFlag,
    settings_of,
)
from signoff.server.ops import Trace, TraceStep, trace_of

STYLE = {"tool_call": "cyan", "proposal": "bold", "decision": "magenta", "vote": "yellow",
         "status": "blue", "result": "blue", "event": "green", "delivery": "white",
         "side_effect": "bold green"}
# Details worth a line in the tree (all of them are in --json).
SHOWN = ("reason", "rule_id", "policy_version", "channel", "comment", "status", "attempts",
         "published_at", "last_error", "message", "idempotency_key")


def trace(
    subject: Annotated[str, typer.Argument(
        metavar="ID", help="A proposal id or a correlation id.")],
    tenant: Annotated[str | None, typer.Option(help="Only this tenant's records.")] = None,
    db: DbFlag = None, domain: DomainFlag = None, policy: PolicyFlag = None,
    principals: PrincipalsFlag = None, gateway: GatewayFlag = None,
    as_json: JsonOption = False,
) -> None:
    """The causal chain of a proposal id or a correlation id.

    Tool calls, proposal, policy decisions, votes, command result, events,
    deliveries and side effects, each step under the step that caused it."""
    settings = settings_of(db=db, domain=domain, policy=policy, principals=principals,
                           gateway=gateway)

    async def run() -> Trace | None:
        async with open_app(settings) as app:
            return await trace_of(app, subject, tenant)

    found = anyio.run(run)
    if found is None:
        fail(f"no proposal or correlation id {subject!r}" + (f" in tenant {tenant}" if tenant
                                                              else ""))
        return
    if as_json:
        json_lines(found.steps)
        return
    out.print(render(found))


def _line(step: TraceStep) -> str:
    when = step.at.strftime("%Y-%m-%d %H:%M:%S") if step.at else "?"
    style = STYLE[step.kind]
    text = f"[{style}]{step.kind}[/{style}] {escape(step.label)}  [dim]{when}"
    if step.actor:
        text += f" by {escape(step.actor)}"
    text += f"  ({escape(step.step_id)})[/dim]"
    extra = [f"{k}={_short(v)}" for k, v in step.details.items() if k in SHOWN and v not in
             (None, "", [])]
    if len(step.caused_by) > 1:
        extra.append("also caused by " + ", ".join(step.caused_by[1:]))
    return text + ("\n[dim]" + escape("; ".join(extra)) + "[/dim]" if extra else "")


def _short(value: Any, width: int = 80) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text if len(text) <= width else text[: width - 1] + "…"


def render(found: Trace) -> Tree:
    """A tree: each step under its first cause, roots under the subject."""
    root = Tree(f"[bold]trace of {escape(found.subject)}[/bold] ({found.resolved_as}; "
                f"correlation {escape(', '.join(found.correlation_ids))})")
    nodes: dict[str, Tree] = {}
    for step in found.steps:
        parent = nodes.get(step.caused_by[0]) if step.caused_by else None
        nodes[step.step_id] = (parent or root).add(_line(step))
    return root
