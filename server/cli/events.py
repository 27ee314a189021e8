"""`signoff events list`, `signoff audit verify|anchor`, `signoff projections rebuild`."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import anyio
import typer
from rich.progress import Progress
from rich.table import Table

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
from signoff.server.errors import InvalidInput
from signoff.server.ops import Anchor, ChainReport, anchor_line, read_anchors, verify_chain
from signoff.server.state.projector import ProjectionGap
from signoff.server.state.rebuild import rebuild_projections
from signoff.store.errors import GenerationSuperseded
from signoff.store.ports import UnitOfWork
from signoff.store.records import EventEnvelope

events_app = typer.Typer(help="Committed events.", no_args_is_help=True)
audit_app = typer.Typer(help="Tamper evidence.", no_args_is_help=True)
projections_app = typer.Typer(help="Read models.", no_args_is_help=True)


@events_app.command("list")
def list_events(
    aggregate: Annotated[str | None, typer.Option(help="Only this aggregate id.")] = None,
    after: Annotated[int, typer.Option(min=0, help="Only events after this position.")] = 0,
    limit: Annotated[int, typer.Option(min=1, max=100_000)] = 1000,
    db: DbFlag = None, domain: DomainFlag = None, policy: PolicyFlag = None,
    principals: PrincipalsFlag = None, gateway: GatewayFlag = None,
    as_json: JsonOption = False,
) -> None:
    """Committed events, in order."""
    settings = settings_of(db=db, domain=domain, policy=policy, principals=principals,
                           gateway=gateway)

    async def run() -> list[EventEnvelope]:
        async with open_app(settings) as app:
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


AnchorFile = Annotated[Path | None, typer.Option(
    "--anchor", help="Also check the anchors `audit anchor --out` appended to this file.",
    dir_okay=False)]


@audit_app.command("verify")
def verify(
    anchor: AnchorFile = None,
    db: DbFlag = None, domain: DomainFlag = None, policy: PolicyFlag = None,
    principals: PrincipalsFlag = None, gateway: GatewayFlag = None,
    as_json: JsonOption = False,
) -> None:
    """Check the hash chain, what refers to events, and the anchors; exit 1 at the first break."""
    settings = settings_of(db=db, domain=domain, policy=policy, principals=principals,
                           gateway=gateway)
    anchors: list[Anchor] = []
    if anchor is not None:
        try:
            anchors = read_anchors(anchor)
        except InvalidInput as exc:
            fail(exc.message, code=2)

    async def run() -> ChainReport:
        async with open_app(settings) as app:
            return await app.store.read(lambda uow: verify_chain(uow, anchors))

    report = anyio.run(run)
    if as_json:
        json_lines([{"ok": report.ok, "checked": report.checked, "head": report.head,
                     "head_hash": report.head_hash, "anchors_checked": report.anchors,
                     "broken_at": report.broken_at, "problem": report.problem}])
    elif report.ok:
        held = f"; {report.anchors} anchor(s) hold" if anchor is not None else ""
        out.print(f"ok: {report.checked} event(s), chain intact up to position {report.head}"
                  f"{held}")
    else:
        out.print(f"[red]BROKEN[/red] at position {report.broken_at}: {escape(report.problem)} "
                  f"({report.checked} event(s) verified before it)")
    if not report.ok:
        raise typer.Exit(1)


@audit_app.command("anchor")
def anchor_head(
    out_file: Annotated[Path | None, typer.Option(
        "--out", help="Append the anchor to this file, one JSON line each time.",
        dir_okay=False)] = None,
    db: DbFlag = None, domain: DomainFlag = None, policy: PolicyFlag = None,
    principals: PrincipalsFlag = None, gateway: GatewayFlag = None,
    as_json: JsonOption = False,
) -> None:
    """Print the head's position and hash: keep them where the database's owner
    cannot rewrite them, and `verify --anchor` detects truncation past them."""
    settings = settings_of(db=db, domain=domain, policy=policy, principals=principals,
                           gateway=gateway)

    async def run() -> tuple[Anchor | None, str]:
        async with open_app(settings) as app:
            def head(uow: UnitOfWork) -> Anchor | None:
                position = uow.events.head()
                found = uow.events.hashes_at([position]).get(position)
                return Anchor(position, found) if found is not None else None

            return await app.store.read(head), app.clock().isoformat()

    taken, at = anyio.run(run)
    if taken is None:
        fail("the event log is empty: there is nothing to anchor yet", code=1)
        return
    line = anchor_line(taken, at)
    if out_file is not None:
        try:
            with out_file.open("a", encoding="utf-8") as sink:
                sink.write(line + "\n")
        except OSError as exc:
            fail(f"cannot append to {out_file}: {exc.strerror or exc}", code=2)
    if as_json:
        sys.stdout.write(line + "\n")
    else:
        where = f" (appended to {escape(str(out_file))})" if out_file is not None else ""
        out.print(f"head at position {taken.position}, hash {taken.hash}{where}")


@projections_app.command("rebuild")
def rebuild(
    names: Annotated[list[str] | None, typer.Argument(help="Projections (default: all).")] = None,
    db: DbFlag = None, domain: DomainFlag = None, policy: PolicyFlag = None,
    principals: PrincipalsFlag = None, gateway: GatewayFlag = None,
    as_json: JsonOption = False,
) -> None:
    """Replay the events into fresh read models (the domain's projections) and swap them in."""
    settings = settings_of(db=db, domain=domain, policy=policy, principals=principals,
                           gateway=gateway)

    async def run() -> dict[str, int]:
        async with open_app(settings) as app:
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
