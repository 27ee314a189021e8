"""`signoff relay` and `signoff outbox status|retry`: delivery from the CLI."""

from __future__ import annotations

import signal
from collections import Counter
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

import anyio
import typer
from rich.markup import escape

from signoff.server.app import App
from signoff.server.cli.common import JsonOption, err, fail, json_lines, open_app, out
from signoff.server.cli.gateway_start import start_gateway
from signoff.server.cli.settings import (
    DbFlag,
    DomainFlag,
    GatewayFlag,
    PolicyFlag,
    PrincipalsFlag,
    SinksFlag,
    settings_of,
)
from signoff.server.delivery import (
    PassResult,
    load_delivery_config,
    projector_for,
    relay_for,
)
from signoff.server.errors import ConfigError
from signoff.server.observability import (
    configure_logging,
    configure_tracing,
    domain_sensitive_fields,
)
from signoff.server.state.projector import ProjectionStatus
from signoff.store.ports import UnitOfWork
from signoff.store.records import OutboxMessage

WAITING_SCAN = 10_000  # pending rows looked at to count those waiting behind dead ones
outbox_app = typer.Typer(help="Delivery state of committed events.", no_args_is_help=True)


def relay(
    once: Annotated[bool, typer.Option(
        "--once", help="Deliver what is due now and catch projections up, then exit.")] = False,
    owner: Annotated[str | None, typer.Option(
        help="Lease owner id. A relay restarted with the same id takes its leases back at "
        "once (default: host:pid:random).")] = None,
    projections: Annotated[bool, typer.Option(
        "--projections/--no-projections", help="Also run the async projector.")] = True,
    db: DbFlag = None, domain: DomainFlag = None, policy: PolicyFlag = None,
    principals: PrincipalsFlag = None, gateway: GatewayFlag = None,
    sinks: SinksFlag = None,
    as_json: JsonOption = False,
) -> None:
    """Run the outbox relay and the async projector alone.

    With --once: deliver what is due, catch up, exit (1 when something could
    not be delivered or a projection is stalled). Otherwise run until stopped.
    With a gateway file it also runs the invoker: it starts the upstreams and
    makes each approved call once; without one, calls wait for a relay that has it."""
    settings = settings_of(db=db, domain=domain, policy=policy, principals=principals,
                           gateway=gateway, sinks=sinks)
    try:
        config = load_delivery_config(settings.path("sinks"))
    except ConfigError as exc:
        fail(exc.message, code=2)
        raise

    async def run() -> tuple[PassResult, list[ProjectionStatus]]:
        async with open_app(settings) as app, AsyncExitStack() as stack:
            configure_tracing()
            await start_gateway(app, stack)
            try:
                worker = relay_for(app, config, owner=owner)
            except ConfigError as exc:
                fail(exc.message, code=2)
                raise
            projector = projector_for(app, config)
            if not projections:
                projector.projections = []
            try:
                if once:
                    result = await worker.drain()
                    return result, await projector.catch_up()
                configure_logging(sensitive=domain_sensitive_fields(app.domain))
                await _forever(worker.run, projector.run)
                return PassResult(), await projector.status()
            finally:
                with anyio.CancelScope(shield=True):
                    await worker.close()

    result, statuses = anyio.run(run)
    if not once:
        return
    if as_json:
        json_lines([{"kind": "relay", **vars(result)},
                    *({"kind": "projection", **_projection_doc(s)} for s in statuses)])
    else:
        out.print(f"relay: claimed {result.claimed}, published {result.published}, "
                  f"retrying {result.retrying}, dead {result.dead}"
                  + (f", lost to another relay {result.lost}" if result.lost else ""))
        for s in statuses:
            state = f"[red]stalled: {s.stalled}[/red]" if s.stalled else "ok"
            out.print(f"projection {s.name}: at {s.checkpoint} of {s.head} (lag {s.lag}) {state}")
    if result.retrying or result.dead or any(s.stalled for s in statuses):
        raise typer.Exit(1)


async def _forever(*workers: Any) -> None:
    """Run the workers until SIGINT or SIGTERM, then let them finish their pass."""
    stop = anyio.Event()
    async with anyio.create_task_group() as tg:
        for worker in workers:
            tg.start_soon(worker, stop)
        with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
            async for _ in signals:
                err.print("stopping the relay")
                stop.set()
                break


def _projection_doc(s: ProjectionStatus) -> dict[str, Any]:
    return {"projection": s.name, "checkpoint": s.checkpoint, "head": s.head, "lag": s.lag,
            "stalled": s.stalled}


@dataclass(frozen=True)
class _Dead:
    """A dead row and the later rows of its aggregate it holds back."""

    message: OutboxMessage
    waiting: int


def _dead_doc(dead: _Dead) -> dict[str, Any]:
    m = dead.message
    holds_back = None if m.aggregate_id is None else {
        "tenant_id": m.tenant_id, "aggregate_id": m.aggregate_id}
    return {"message_id": m.message_id, "topic": m.topic, "tenant_id": m.tenant_id,
            "aggregate_id": m.aggregate_id, "attempts": m.attempts, "last_error": m.last_error,
            "created_at": m.created_at.isoformat(), "correlation_id": m.correlation_id,
            "holds_back": holds_back, "waiting": dead.waiting}


@outbox_app.command("status")
def status(
    limit: Annotated[int, typer.Option(min=1, max=10_000, help="Dead rows listed.")] = 50,
    db: DbFlag = None, domain: DomainFlag = None, policy: PolicyFlag = None,
    principals: PrincipalsFlag = None, gateway: GatewayFlag = None,
    as_json: JsonOption = False,
) -> None:
    """Counts by status, the oldest pending row's age, rows in flight, dead
    rows with their last error and the aggregate each holds back (its later
    rows wait until it is retried; counted among the first 10,000 pending
    rows), and how far the async projections lag."""
    settings = settings_of(db=db, domain=domain, policy=policy, principals=principals,
                           gateway=gateway)

    async def run() -> tuple[dict[str, Any], list[_Dead], list[ProjectionStatus]]:
        async with open_app(settings) as app:
            now = app.clock()
            summary, dead = await app.store.read(lambda uow: _summary(uow, now, limit))
            return summary, dead, await projector_for(app).status()

    summary, dead, projections = anyio.run(run)
    if as_json:
        json_lines([{"kind": "summary", **summary},
                    *({"kind": "dead", **_dead_doc(d)} for d in dead),
                    *({"kind": "projection", **_projection_doc(s)} for s in projections)])
        return
    age = summary["oldest_pending_age_s"]
    out.print(f"pending {summary['pending']} (in flight {summary['in_flight']}), published "
              f"{summary['published']}, dead {summary['dead']}; oldest pending: "
              + ("none" if age is None else f"{age:.1f}s old"))
    for d in dead:  # one line each, whole ids: they are what `retry` takes
        m = d.message
        held = "" if m.aggregate_id is None else (
            f"; holds back {escape(m.tenant_id)}/{escape(m.aggregate_id)}: "
            f"{d.waiting} later row(s) wait")
        out.print(f"[red]dead[/red] {m.message_id} {m.topic} (tenant {m.tenant_id}, "
                  f"{m.attempts} attempts, created {m.created_at:%Y-%m-%d %H:%M:%S}): "
                  f"{escape(m.last_error or '')}{held}", soft_wrap=True)
    if dead:
        out.print("retry with: signoff outbox retry MESSAGE_ID...")
    for s in projections:
        state = f"stalled: {s.stalled}" if s.stalled else "ok"
        out.print(f"projection {s.name}: at {s.checkpoint} of {s.head} (lag {s.lag}) {state}")


def _summary(uow: UnitOfWork, now: datetime, limit: int) -> tuple[dict[str, Any], list[_Dead]]:
    counts = uow.outbox.counts()
    oldest = uow.outbox.find(status="pending", limit=1)
    summary = {
        "pending": counts.get("pending", 0), "published": counts.get("published", 0),
        "dead": counts.get("dead", 0), "in_flight": uow.outbox.in_flight(now),
        "oldest_pending_age_s": (now - oldest[0].created_at).total_seconds() if oldest else None,
    }
    dead = uow.outbox.find(status="dead", limit=limit)
    # The earliest dead row of an aggregate is the one holding it back.
    holding = {}
    for m in reversed(dead):
        if m.aggregate_id is not None:
            holding[(m.tenant_id, m.aggregate_id)] = m
    waiting: Counter[str] = Counter()
    if holding:
        for m in uow.outbox.find(status="pending", limit=WAITING_SCAN):
            holder = holding.get((m.tenant_id, m.aggregate_id or ""))
            if holder is not None and m.position > holder.position:
                waiting[holder.message_id] += 1
    return summary, [_Dead(m, waiting[m.message_id]) for m in dead]


@outbox_app.command("retry")
def retry(
    message_ids: Annotated[list[str], typer.Argument(help="Dead message ids.")],
    db: DbFlag = None, domain: DomainFlag = None, policy: PolicyFlag = None,
    principals: PrincipalsFlag = None, gateway: GatewayFlag = None,
    as_json: JsonOption = False,
) -> None:
    """Put dead messages back in line, with a fresh attempt budget; the relay
    delivers them on its next pass."""
    settings = settings_of(db=db, domain=domain, policy=policy, principals=principals,
                           gateway=gateway)

    async def run(app_messages: list[str]) -> list[dict[str, Any]]:
        async with open_app(settings) as app:
            return [await _retry_one(app, m) for m in app_messages]

    results = anyio.run(run, message_ids)
    if as_json:
        json_lines(results)
    else:
        for r in results:
            if r["retried"]:
                out.print(f"{r['message_id']}: back to pending")
            else:
                err.print(f"[red]error:[/red] {r['message_id']}: {r['problem']}")
    if not all(r["retried"] for r in results):
        raise typer.Exit(1)


async def _retry_one(app: App, message_id: str) -> dict[str, Any]:
    def job(uow: UnitOfWork) -> dict[str, Any]:
        found = uow.outbox.get(message_id)
        if found is None:
            return {"message_id": message_id, "retried": False, "problem": "no such message"}
        if found.status != "dead":
            return {"message_id": message_id, "retried": False,
                    "problem": f"it is {found.status}; only dead messages can be retried"}
        uow.outbox.retry(message_id)
        return {"message_id": message_id, "retried": True, "problem": None}

    return await app.store.write(job)
