"""How `signoff demo gateway` prints its session."""

from __future__ import annotations

import json
import shlex
from pathlib import Path
from typing import Any

from signoff.server.app import shown
from signoff.server.cli.common import out
from signoff.server.ops import Step, Trace

LINES = 8


def _text(result: dict[str, Any]) -> list[str]:
    if "text" in result:
        return str(result["text"]).splitlines()
    return json.dumps(result, indent=2, default=str).splitlines()


def render_gateway(step: Step) -> None:
    from signoff.server.cli.trace import render as render_trace

    tool = f" [cyan]{step.tool}[/cyan]" if step.tool else ""
    out.print(f"[bold]{step.number}.[/bold]{tool} {step.title}")
    result = step.result
    if step.kind == "trace":
        out.print(render_trace(Trace.model_validate(result)))
    elif step.kind == "review":
        out.print(f"   {result['will_call']}; arguments {json.dumps(result['arguments'])}")
        for line in str(result["preview"]).splitlines()[:LINES]:
            out.print(f"   [dim]preview | {line}[/dim]", markup=True, highlight=False)
        out.print(f"   approved by {result['voter']}: now [bold]{result['status']}[/bold]")
    elif "tools" in result:
        out.print("   " + ", ".join(result["tools"]), markup=False)
    elif "proposal_id" in result:
        out.print(f"   proposal {result['proposal_id']}: [bold]{result['status']}[/bold] "
                  f"({(result.get('decision') or {}).get('rule_id')})")
        if result.get("result"):
            for line in _text({"text": " ".join(
                    str(c.get("text", "")) for c in result["result"].get("content", []))}):
                out.print(f"   upstream: {line}", markup=False)
        out.print(f"   next: {result.get('next')}", markup=False)
    else:
        for line in _text(result)[:LINES]:
            out.print(f"   {line}", markup=False, highlight=False)
    out.print()


def gateway_footer(db: Path | str, folder: Path) -> None:
    q = shlex.quote
    files = (f"--db {q(shown(db))} --gateway {q(str(folder / 'gateway.toml'))} "
             f"--policy {q(str(folder / 'policy.toml'))} "
             f"--principals {q(str(folder / 'principals.toml'))}")
    out.print("[bold]Next[/bold], on the same files:")
    out.print(f"  signoff serve {files} --principal agent:claude --tenant local", soft_wrap=True)
    out.print(f"  signoff review list {files}", soft_wrap=True)
    out.print(f"  signoff gateway status {q(str(folder / 'gateway.toml'))}", soft_wrap=True)
