"""`signoff events list`, `signoff audit verify`, `signoff projections rebuild`."""

from __future__ import annotations

import json
from typing import Annotated

import anyio
import typer
from rich.progress import Progress
from rich.table import Table

from signoff.server.cli.common import DbOption, JsonOption, fail, json_lines, open_app, out
from signoff.server.ops import ChainReport, verify_chain
from signoff.server.state.projector import ProjectionGap
from signoff.server.state.rebuild import rebuild_projections
from signoff.store.errors import GenerationSuperseded
from signoff.store.records import EventEnvelope

events_app = typer.Typer(help="Committed events.", no_args_is_help=True)
audit_app = typer.Typer(help="Tamper evidence.", no_args_is_help=True)
projections_app = typer.Typer(help="Read models.", no_args_is_help=True)


@events_app.command("list")
def list_events(
    db: DbOption,
    aggregate: Annotated[str | None, typer.Option(help="Only this aggregate id.")] = None,
    after: Annotated[int, typer.Option(min=0, help="Only events after this position.")] = 0,
    limit: Annotated[int, typer.Option(min=1, max=100_000)] = 1000,
    as_json: JsonOption = False,
) -> None:
    """Committed events, in order."""

    async def run() -> list[EventEnvelope]:
        async with open_app(db) as app:
            return await app.store.read(
                lambda uow: uow.events.read_after(after, limit, aggregate_id=aggregate))

    events = anyio.run(run)
    if as_json:
        json_lines(events)
        return
    table = Table("pos", "tenant", "aggregate", "ver", "event", "actor", "at", "payload")
    for e in events:
        table.add_row(
            str(e.position), e.tenant_id, f"{e.aggregate_type}/{e.aggregate_id}",
            str(e.aggregate_version), f"{e.event_type} v{e.event_version}", e.actor_id,
            e.occurred_at.strftime("%Y-%m-%d %H:%M:%S"),
            _short(json.dumps(e.payload, ensure_ascii=False)),
        )
    out.print(table)
    out.print(f"{len(events)} event(s)")


def _short(text: str, width: int = 60) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


@audit_app.command("verify")
def verify(db: DbOption, as_json: JsonOption = False) -> None:
    """Check the hash chain of the event log; exit 1 at the first break."""

    async def run() -> ChainReport:
        async with open_app(db) as app:
            return await app.store.read(verify_chain)

    report = anyio.run(run)
    if as_json:
        json_lines([{"ok": report.ok, "checked": report.checked, "head": report.head,
                     "broken_at": report.broken_at, "problem": report.problem}])
    elif report.ok:
        out.print(f"ok: {report.checked} event(s), chain intact up to position {report.head}")
    else:
        out.print(f"[red]BROKEN[/red] at position {report.broken_at}: {report.problem} "
                  f"({report.checked} event(s) verified before it)")
    if not report.ok:
        raise typer.Exit(1)


@projections_app.command("rebuild")
def rebuild(
    db: DbOption,
    names: Annotated[list[str] | None, typer.Argument(help="Projections (default: all).")] = None,
    as_json: JsonOption = False,
) -> None:
    """Replay events into fresh read models and swap them in."""

    async def run() -> dict[str, int]:
        async with open_app(db) as app:
            with Progress(transient=True, disable=as_json) as bar:
                task = bar.add_task("replaying events", total=None)
                try:
                    return await rebuild_projections(
                        app.store, app.domain, app.upcaster, names or None,
                        progress=lambda done, total: bar.update(task, completed=done, total=total),
                    )
                except KeyError as exc:
                    fail(str(exc.args[0]), code=2)
                    raise
                except (GenerationSuperseded, ProjectionGap) as exc:
                    fail(f"{exc}; nothing was swapped in", code=1)
                    raise

    rebuilt = anyio.run(run)
    if as_json:
        json_lines([{"projection": name, "position": pos} for name, pos in rebuilt.items()])
        return
    for name, position in rebuilt.items():
        out.print(f"rebuilt {name} up to position {position}")
