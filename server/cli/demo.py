"""`signoff demo`: seed a fresh database and play the scripted agent session.

The database must be new (absent or empty): the demo's story starts from the
seed data, and a database with history would be silently mixed into it.
`--force` deletes an existing database file (and its -wal/-shm) first; on
PostgreSQL it drops signoff's tables in the URL's schema (nothing else there).
"""

from __future__ import annotations

import json
import shlex
import shutil
from pathlib import Path
from typing import Annotated, Any, Literal

import anyio
import typer
from rich.padding import Padding
from rich.table import Table

from signoff.server.app import Database, Settings, build_app, shown
from signoff.server.cli.common import JsonOption, fail, json_lines, out
from signoff.server.cli.demo_assistant import play_assistant_demo
from signoff.server.cli.demo_gateway import gateway_footer, render_gateway
from signoff.server.cli.settings import DbFlag, settings_of
from signoff.server.cli.trace import render as render_trace
from signoff.server.ops import AGENT, TENANT, DemoError, Step, Trace, play, play_gateway
from signoff.store.errors import StoreError
from signoff.store.postgres.admin import holds_data, wipe


def demo_command(
    scenario: Annotated[Literal["casework", "gateway", "assistant"], typer.Argument(
        help="casework (the default); gateway: a real mcp-server-git behind the gate; "
        "assistant: memory writes and an API call as proposals, context built for a model.")]
    = "casework",
    force: Annotated[bool, typer.Option(
        "--force", help="Delete an existing database at --db first.")] = False,
    db_flag: DbFlag = None,
    as_json: JsonOption = False,
) -> None:
    """Seed the casework example into a fresh database and play one scripted agent
    session through a real MCP client: queries, an auto-approved draft, an escalation
    that waits for approval, a reviewer approving it, the executor committing, the trace.
    `gateway` plays the same story against a real upstream MCP server (mcp-server-git);
    `assistant` plays the assistant example (memory, context, one outside call)."""
    given = settings_of(db=db_flag).db
    db: Database = given.resolve() if isinstance(given, Path) else given
    folder = (db.parent if isinstance(db, Path) else Path.cwd()) / "signoff-demo-gateway"
    if _holds_data(db):
        if not force:
            fail(f"{shown(db)} already exists and is not empty; the demo needs a fresh "
                 "database. Pass --db NEW_PATH, or --force to delete this one first.", code=2)
        _wipe(db)
    if scenario == "gateway":
        _gateway(db, folder, force=force, as_json=as_json)
        return
    if scenario == "assistant":
        play_assistant_demo(db, force=force, as_json=as_json)
        return
    on_step = (lambda step: json_lines([step.as_json()])) if as_json else render

    async def run() -> None:
        async with await build_app(Settings(db=db)) as app:
            seeded = await app.seed_if_empty()
            if not as_json:
                out.print(f"[bold]signoff demo[/bold]: {seeded} seed events in {shown(db)}; "
                          f"the agent is {AGENT} in tenant {TENANT}.\n")
            await play(app, on_step)

    try:
        anyio.run(run)
    except DemoError as exc:
        fail(f"the demo did not go as scripted: {exc}")
    if not as_json:
        footer(db)


def _gateway(db: Database, folder: Path, *, force: bool, as_json: bool) -> None:
    if folder.exists():
        if not force:
            fail(f"{folder} already exists; pass --force to replace it", code=2)
        shutil.rmtree(folder)
    on_step = (lambda step: json_lines([step.as_json()])) if as_json else render_gateway
    if not as_json:
        out.print(f"[bold]signoff demo gateway[/bold]: mcp-server-git on a scratch repository "
                  f"in {folder}; the agent is agent:claude in tenant local.\n")
    try:
        anyio.run(play_gateway, db, on_step)
    except DemoError as exc:
        fail(f"the demo did not go as scripted: {exc}")
    if not as_json:
        gateway_footer(db, folder)


def _holds_data(db: Database) -> bool:
    if isinstance(db, Path):
        return db.exists() and db.stat().st_size > 0
    try:
        return holds_data(db)
    except StoreError as exc:
        fail(f"cannot open {shown(db)}: {exc}", code=1)
        raise


def _wipe(db: Database) -> None:
    if isinstance(db, Path):
        for path in (db, Path(f"{db}-wal"), Path(f"{db}-shm")):
            path.unlink(missing_ok=True)
        return
    wipe(db)


def render(step: Step) -> None:
    mark = "[red]error[/red] " if step.is_error else ""
    tool = f" [cyan]{step.tool}[/cyan]" if step.tool else ""
    out.print(f"[bold]{step.number}.[/bold]{tool} {mark}{step.title}")
    if step.arguments:
        out.print(f"   [dim]arguments: {_short(json.dumps(step.arguments))}[/dim]")
    renderer = RENDERERS.get(step.tool or step.kind, _render_receipt)
    renderer(step.result)
    out.print()


def _short(text: str, width: int = 110) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _table(*columns: str, rows: list[list[Any]]) -> None:
    table = Table(*columns, box=None, padding=(0, 2), pad_edge=False)
    for row in rows:
        table.add_row(*(str(value) for value in row))
    out.print(Padding(table, (0, 0, 0, 3)))


def _render_cases(result: dict[str, Any]) -> None:
    _table("case_id", "status", "risk", "version", rows=[
        [c["case_id"], c["status"], c["risk_level"], c["version"]] for c in result["cases"]])


def _render_summary(result: dict[str, Any]) -> None:
    for key in ("case_id", "status", "risk_level", "assigned_team", "evidence_count", "version"):
        out.print(f"   {key}: {result.get(key)}")


def _render_evidence(result: dict[str, Any]) -> None:
    _table("evidence_id", "title", rows=[[i["evidence_id"], i["title"]]
                                         for i in result["items"]])


def _render_context(result: dict[str, Any]) -> None:
    for key in ("status", "risk_level", "version", "allowed_actions", "key_evidence_refs",
                "missing_evidence"):
        if key in result:
            out.print(f"   {key}: {result[key]}")


def _render_receipt(result: dict[str, Any]) -> None:
    decision = result.get("decision") or {}
    out.print(f"   proposal {result.get('proposal_id')}: [bold]{result.get('status')}[/bold] "
              f"(outcome {result.get('outcome')})")
    if decision:
        out.print(f"   policy: {decision.get('effect')} by rule {decision.get('rule_id')} - "
                  f"{decision.get('reason')}")
    for event in result.get("events", []):
        out.print(f"   committed: {event['event_type']} {event['aggregate_id']} "
                  f"v{event['aggregate_version']} at position {event['position']}")
    out.print(f"   next: {result.get('next')}")


def _render_review(result: dict[str, Any]) -> None:
    out.print(f"   vote by {result['voter']} ({', '.join(result['roles'])}) via "
              f"{result['channel']} on digest {result['payload_digest'][:12]}…")
    out.print(f"   still needed: {result['still_needed']}; status now "
              f"[bold]{result['status']}[/bold]")
    for event in result["events"]:
        out.print(f"   committed: {event['event_type']} {event['aggregate_id']} "
                  f"v{event['aggregate_version']} at position {event['position']}")


def _render_trace(result: dict[str, Any]) -> None:
    out.print(render_trace(Trace.model_validate(result)))


RENDERERS = {
    "list_cases": _render_cases, "get_case_summary": _render_summary,
    "search_evidence": _render_evidence, "get_case_context": _render_context,
    "review": _render_review, "trace": _render_trace,
}


def footer(db: Database) -> None:
    path = shlex.quote(shown(db))
    out.print("[bold]Next[/bold], on the same database:")
    out.print(f"  signoff serve --db {path} --principal {AGENT} --tenant {TENANT}"
              "    # the MCP server (stdio)")
    out.print(f"  signoff console --db {path}    # the reviewer web console")
    out.print(f"  signoff review list --db {path}    # the approval queue")
    out.print(f"Claude Desktop: signoff install-claude --db {path}   "
              "(then restart Claude Desktop)")
