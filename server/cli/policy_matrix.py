"""`signoff policy matrix`: who may propose what, and which rules the principals make useless."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from signoff.policies import lint_policy, static_outcome
from signoff.server.cli.policy import (
    DomainCommands,
    ExistingFile,
    JsonFlag,
    coloured,
    finding_json,
    load_checked,
    principals_from,
    split_csv,
)
from signoff.server.cli.settings import DomainFlag, PrincipalsFlag, settings_of


def matrix(
    path: ExistingFile,
    tenant: Annotated[str | None, typer.Option(help="Only principals of this tenant.")] = None,
    commands: Annotated[str | None, typer.Option(
        help="Extra command types (comma-separated) besides those the policy names.")] = None,
    domain: DomainFlag = None,
    domain_commands: DomainCommands = None,
    principals: PrincipalsFlag = None,
    as_json: JsonFlag = False,
) -> None:
    """Who may propose what: principals x command types, without evaluating conditions.

    Each cell is `allow`, `ask` or `deny` when that is the outcome whatever the
    input, or `conditional` when `when` conditions decide; the JSON field
    `possible` lists the effects such a cell can come to (an over-approximation:
    conditions are not solved). `may_propose` is false when no allow or ask rule
    selects the principal, or an unconditional deny does. Limits are not shown.
    Rows: the command types the policy names exactly, plus --commands. Without
    --tenant every principal is shown acting in its first tenant.

    Below the table come the warnings `policy lint --principals` gives (with
    --json, one object per warning after the cells, told apart by its
    `warning` key).
    """
    policy = load_checked(path, domain, domain_commands, as_json)
    people = principals_from(settings_of(principals=principals).principals, as_json)
    records = [r for r in people if tenant is None or tenant in r.tenants]
    types = list(dict.fromkeys([*policy.exact_commands, *split_csv(commands)]))
    table = Table("command", *(escape(r.id) for r in records), title=f"policy {policy.version}")
    rows: dict[str, list[str]] = {t: [] for t in types}
    depends: dict[str, set[str]] = {}
    for record in records:
        facts = record.facts(tenant or record.tenants[0])
        for command_type in types:
            outcome = static_outcome(policy, facts, command_type)
            rows[command_type].append(coloured(outcome.effect))
            if outcome.effect == "conditional":
                depends.setdefault(command_type, set()).update(outcome.possible)
            if as_json:
                typer.echo(json.dumps({
                    "principal": record.id, "kind": record.kind, "tenant": facts.tenant,
                    "roles": list(record.roles), "command": command_type,
                    "effect": outcome.effect, "possible": list(outcome.possible),
                    "may_propose": outcome.may_propose, "rules": list(outcome.rules),
                }))
    findings = lint_policy(policy, records, tenants=None if tenant is None else (tenant,))
    if as_json:
        for finding in findings:
            typer.echo(json.dumps(finding_json(finding)))
        return
    for command_type, cells in rows.items():
        table.add_row(escape(command_type), *cells)
    console = Console()
    console.print(table)
    for command_type, effects in depends.items():
        possible = "/".join(e for e in ("allow", "ask", "deny") if e in effects)
        console.print(f"conditional {escape(command_type)}: {possible}, depending on `when`",
                      highlight=False)
    for finding in findings:
        # One line each, however narrow the terminal: a path and line to jump to.
        console.print(f"[yellow]{escape(str(finding))}[/]", highlight=False, soft_wrap=True)
