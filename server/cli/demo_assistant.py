"""How `signoff demo assistant` runs and prints its session."""

from __future__ import annotations

import json
import shlex
from typing import Any

import anyio

from signoff.server.app import Database, shown
from signoff.server.cli.common import fail, json_lines, out
from signoff.server.ops import DemoError, Step, assistant_endpoints_file, play_assistant


def play_assistant_demo(db: Database, *, force: bool, as_json: bool) -> None:
    allow_list = assistant_endpoints_file(db)
    if allow_list.exists() and not force:
        fail(f"{allow_list} already exists; the demo writes its own allow-list there. Pass "
             "--force to replace it, or --db in another folder.", code=2)
    on_step = (lambda step: json_lines([step.as_json()])) if as_json else render_assistant
    if not as_json:
        out.print("[bold]signoff demo assistant[/bold]: the agent is agent:assistant in tenant "
                  f"home; Sam (user:sam) owns it. A forecast endpoint runs on 127.0.0.1, "
                  f"allow-listed in {allow_list}.\n")
    try:
        anyio.run(play_assistant, db, on_step)
    except DemoError as exc:
        fail(f"the demo did not go as scripted: {exc}")
    if not as_json:
        footer(db)


def _receipt(result: dict[str, Any]) -> None:
    decision = result.get("decision") or {}
    out.print(f"   proposal {result.get('proposal_id')}: [bold]{result.get('status')}[/bold] "
              f"({decision.get('rule_id')}: {decision.get('reason')})", markup=True)
    for event in result.get("events", []):
        out.print(f"   committed: {event['event_type']} {event['aggregate_id']}", markup=False)


def render_assistant(step: Step) -> None:
    tool = f" [cyan]{step.tool}[/cyan]" if step.tool else ""
    out.print(f"[bold]{step.number}.[/bold]{tool} {step.title}")
    result = step.result
    if step.tool == "build_context":
        for line in str(result.get("context", "")).splitlines():
            out.print(f"   | {line}", markup=False, highlight=False)
        out.print(f"   {result.get('tokens')} of {result.get('budget_tokens')} tokens, "
                  f"{result.get('omitted')} left out; as of position "
                  f"{result.get('as_of_position')}, lag {result.get('lag')}", markup=False)
    elif step.kind == "review":
        out.print(f"   vote by {result['voter']} ({', '.join(result['roles'])}): status now "
                  f"[bold]{result['status']}[/bold]")
    elif step.tool == "get_api_call":
        response = result.get("response") or {}
        out.print(f"   {result.get('method')} {result.get('url')}: {result.get('status')} after "
                  f"{result.get('attempts')} attempt(s), {response.get('status_code')} "
                  f"{json.dumps(response.get('body'))}", markup=False, highlight=False)
    elif "proposal_id" in result:
        _receipt(result)
    else:
        out.print(f"   {json.dumps(result)}", markup=False, highlight=False)
    out.print()


def footer(db: Database) -> None:
    path = shlex.quote(shown(db))
    out.print("[bold]Next[/bold], on the same database:")
    out.print(f"  signoff serve --domain assistant --db {path} --principal agent:assistant "
              "--tenant home    # the MCP server (stdio)", soft_wrap=True)
    out.print(f"  signoff review list --domain assistant --db {path}    # the approval queue",
              soft_wrap=True)
