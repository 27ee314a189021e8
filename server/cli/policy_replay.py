"""`signoff policy replay NEW_POLICY`: recorded proposals judged again under
another policy, before it ships. Prints each decision that would change and
the counts per transition; exit 1 with `--fail-on-loosen` if any would
become less strict."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Annotated

import anyio
import typer

from signoff.policies import LoadError, load_policy
from signoff.policies.replay import ReplayReport
from signoff.server.cli.common import JsonOption, err, fail, json_lines, open_app, out
from signoff.server.cli.settings import DbFlag, DomainFlag, GatewayFlag, settings_of
from signoff.server.ops import replay_since

SINCE = re.compile(r"^(\d+)([mhdw])$")
UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_since(text: str) -> timedelta:
    match = SINCE.match(text.strip())
    if match is None:
        raise typer.BadParameter("a number and a unit: 30m, 12h, 7d or 2w", param_hint="--since")
    return timedelta(**{UNITS[match.group(2)]: int(match.group(1))})


def replay(
    new_policy: Annotated[Path, typer.Argument(
        exists=True, dir_okay=False, resolve_path=True, help="The policy to judge with.")],
    since: Annotated[str, typer.Option(help="How far back: 30m, 12h, 7d, 2w.")] = "7d",
    tenant: Annotated[str | None, typer.Option(help="Only this tenant's proposals.")] = None,
    fail_on_loosen: Annotated[bool, typer.Option(
        "--fail-on-loosen", help="Exit 1 if any decision would become less strict.")] = False,
    db: DbFlag = None, domain: DomainFlag = None, gateway: GatewayFlag = None,
    as_json: JsonOption = False,
) -> None:
    """Judge recorded proposals again under NEW_POLICY: what would change."""
    window = parse_since(since)
    settings = settings_of(db=db, domain=domain, gateway=gateway)

    async def run() -> ReplayReport:
        async with open_app(settings) as app:
            try:
                policy = load_policy(new_policy, app.commands.names())
            except LoadError as exc:
                fail(str(exc), code=2)
                raise
            return await replay_since(app.store, policy, app.clock() - window, tenant,
                                      progress=_progress(as_json))

    report = anyio.run(run)
    if as_json:
        json_lines([{"proposal_id": c.proposal_id, "command_type": c.command_type,
                     "before": c.before, "after": c.after, "before_rule": c.before_rule,
                     "after_rule": c.after_rule, "direction": c.direction, "reason": c.reason}
                    for c in report.changes])
        json_lines([{"summary": True, "judged": report.judged, "unchanged": report.unchanged,
                     "missing_input": report.missing_input,
                     "transitions": dict(report.transitions),
                     "loosened": len(report.loosened)}])
    else:
        _print(report, since)
    if fail_on_loosen and report.loosened:
        raise typer.Exit(1)


def _progress(quiet: bool) -> Callable[[int], None]:
    def show(n: int) -> None:
        if not quiet and n and n % 10_000 == 0:
            err.print(f"signoff: {n} proposals read", highlight=False)
    return show


def _print(report: ReplayReport, since: str) -> None:
    for c in report.changes:
        out.print(f"{c.proposal_id}  {c.command_type}: {c.before} ({c.before_rule}) -> "
                  f"{c.after} ({c.after_rule})  [{c.direction}]", markup=False)
    counts = ", ".join(f"{k} {v}" for k, v in sorted(report.transitions.items())) or "none"
    out.print(f"{report.judged} decision(s) of the last {since} judged again: "
              f"{report.unchanged} unchanged, {len(report.changes)} would change ({counts})",
              markup=False)
    if report.missing_input:
        out.print(f"{report.missing_input} decision(s) were recorded before signoff kept their "
                  "input and could not be judged again", markup=False)
