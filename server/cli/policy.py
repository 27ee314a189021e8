"""`signoff policy ...`: lint, explain, test and tabulate a policy before any agent runs.

Exit codes: 0 the check passed; 1 the check failed (a policy, principals or
scenario file that does not load counts as a failed check, as does a failing
scenario); 2 bad usage (unknown options, malformed JSON arguments, a missing or
unreadable file).
"""

from __future__ import annotations

import json
from datetime import timedelta
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from signoff.policies import (
    AggregateFacts,
    Decision,
    Finding,
    Gate,
    LoadError,
    Policy,
    PolicyInput,
    PrincipalFacts,
    Principals,
    ProposalFacts,
    RunFacts,
    lint_policy,
    load_policy,
    load_principals,
    load_scenarios,
    run_scenarios,
)
from signoff.server.app import load_domain
from signoff.server.cli.settings import DomainFlag, PrincipalsFlag, settings_of
from signoff.server.domain import DomainError
from signoff.server.errors import SignoffError

policy_app = typer.Typer(
    no_args_is_help=True, help="Check a policy file: lint, explain, test, matrix."
)

ExistingFile = Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)]
JsonFlag = Annotated[bool, typer.Option("--json", help="One JSON object per line.")]
_COLOURS = {"allow": "green", "ask": "yellow", "deny": "red", "conditional": "cyan"}


class Kind(StrEnum):
    agent = "agent"
    user = "user"
    service = "service"


def split_csv(csv: str | None) -> list[str]:
    return [part.strip() for part in (csv or "").split(",") if part.strip()]


def _failed(err: LoadError, as_json: bool) -> NoReturn:
    """Report a file that did not load (a failed check) and exit 1."""
    for p in err.problems:
        if as_json:
            typer.echo(json.dumps({"ok": False, "file": p.source, "line": p.line,
                                   "entry_kind": p.entry_kind, "entry": p.entry, "key": p.key,
                                   "expected": p.expected, "got": p.got, "message": str(p)}))
        else:
            typer.echo(str(p))
    raise typer.Exit(1)


def _known_commands(domain: str | None, domain_commands: str | None) -> list[str]:
    """The command types to check rules against: --domain-commands when given,
    else those of the domain `serve` would load (--domain, $SIGNOFF_DOMAIN or
    signoff.toml, as for every command), so lint fails where serve would."""
    if domain_commands is not None:
        return split_csv(domain_commands)
    try:
        return load_domain(settings_of(domain=domain).domain).command_types()
    except (SignoffError, DomainError) as exc:
        raise typer.BadParameter(str(exc), param_hint="--domain") from None


def load_checked(path: Path, domain: str | None, domain_commands: str | None,
                 as_json: bool) -> Policy:
    """The policy at `path` loaded as `serve` loads it; exit 1 with every problem if it fails."""
    known = _known_commands(domain, domain_commands)
    try:
        return load_policy(path, known)
    except LoadError as err:
        _failed(err, as_json)


def coloured(effect: str) -> str:
    return f"[{_COLOURS.get(effect, 'white')}]{effect}[/]"


DomainCommands = Annotated[str | None, typer.Option(
    "--domain-commands", help="Comma-separated command types to check rules against "
    "instead of --domain's; rules naming any other type (or a prefix matching none) fail.")]




@policy_app.command()
def lint(path: ExistingFile, domain: DomainFlag = None, domain_commands: DomainCommands = None,
         principals: PrincipalsFlag = None,
         strict: Annotated[bool, typer.Option(
             "--strict", help="Fail (exit 1) on warnings too.")] = False,
         as_json: JsonFlag = False) -> None:
    """Load PATH as `serve` would: every problem (exit 1), else warnings and `ok <version>`.

    Warnings name rules that load but can never take part in a decision: one
    whose `when` is false (or, for an allow, fails) for every input, one that
    another rule always outranks whenever it matches (deny beats ask beats
    allow; of two allows or two denies the earlier decides), and with
    a principals file (--principals, $SIGNOFF_PRINCIPALS or signoff.toml) one
    no principal on file is selected by, or an ask no quorum of them can
    approve in some tenant. Warnings alone exit 0 unless --strict.
    With --json: one object per problem, or one object with `warnings`.
    """
    policy = load_checked(path, domain, domain_commands, as_json)
    named = settings_of(principals=principals)
    people = principals_from(named.principals, as_json) if named.given("principals") else None
    findings = lint_policy(policy, people)
    failed = strict and bool(findings)
    if as_json:
        typer.echo(json.dumps({"ok": not failed, "file": str(path), "version": policy.version,
                               "rules": len(policy.rules),
                               "warnings": [finding_json(f) for f in findings]}))
    else:
        for finding in findings:
            typer.echo(str(finding))
        count = f"{len(findings)} warning{'s' if len(findings) != 1 else ''}"
        if not findings:
            typer.echo(f"ok {policy.version}")
        elif failed:
            typer.echo(f"failed: {count} (--strict)")
        else:
            typer.echo(f"ok {policy.version}, {count}")
    if failed:
        raise typer.Exit(1)


def principals_from(path: Path, as_json: bool) -> Principals:
    try:
        return load_principals(path)
    except LoadError as err:
        _failed(err, as_json)


def finding_json(finding: Finding) -> dict[str, Any]:
    return {"warning": finding.check, "file": finding.source, "line": finding.line,
            "entry_kind": "rule", "entry": finding.rule_id, "by": list(finding.by),
            "tenant": finding.tenant, "message": str(finding)}


def _json_arg(value: str | None, option: str) -> dict[str, Any] | None:
    if value is None:
        return None
    try:
        parsed = json.loads(value)
    except json.JSONDecodeError as exc:
        raise typer.BadParameter(f"not valid JSON: {exc.msg}", param_hint=option) from None
    if not isinstance(parsed, dict):
        raise typer.BadParameter("expected a JSON object", param_hint=option)
    return parsed


def _facts(model: type[Any], value: dict[str, Any] | None, option: str) -> Any:
    try:
        return model.model_validate(value or {})
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise typer.BadParameter(problems, param_hint=option) from None


def _decision_json(decision: Decision) -> dict[str, Any]:
    data = decision.model_dump(mode="json")
    if decision.approvers is not None:
        data["approvers"]["expires_in"] = _span(decision.approvers.expires_in)
    return data


def _span(delta: timedelta) -> str:
    """`timedelta(hours=24)` → "24h", as policies write it."""
    seconds = int(delta.total_seconds())
    if seconds % 3600 == 0:
        return f"{seconds // 3600}h"
    return f"{seconds // 60}m" if seconds % 60 == 0 else f"{seconds}s"


@policy_app.command()
def explain(
    path: ExistingFile,
    principal: Annotated[str, typer.Option(help="Principal id, e.g. agent:triage.")],
    tenant: Annotated[str, typer.Option(help="Tenant the principal acts in.")],
    command: Annotated[str, typer.Option(help="Command type, e.g. case.escalate.")],
    kind: Annotated[Kind, typer.Option(help="Principal kind.")] = Kind.agent,
    roles: Annotated[str, typer.Option(help="Comma-separated roles.")] = "",
    payload: Annotated[str, typer.Option(help="Payload as a JSON object.")] = "{}",
    proposal: Annotated[str | None, typer.Option(
        help='JSON: {"confidence": 0.9, "evidence_refs": [...], "rationale": "..."}')] = None,
    aggregate: Annotated[str | None, typer.Option(
        help='JSON: {"type", "id", "version", "status", "fields"}')] = None,
    run: Annotated[str | None, typer.Option(
        help='JSON: {"id", "proposals_so_far", "principal_proposals_last_hour"}')] = None,
    domain: DomainFlag = None,
    domain_commands: DomainCommands = None,
    as_json: JsonFlag = False,
) -> None:
    """Decide one proposal and show every candidate rule: matched or not, and why."""
    payload_map = _json_arg(payload, "--payload") or {}
    facts = PrincipalFacts(id=principal, kind=kind.value, tenant=tenant,
                           roles=tuple(split_csv(roles)))
    aggregate_map = _json_arg(aggregate, "--aggregate")
    inp = PolicyInput(
        principal=facts, command_type=command, payload=payload_map,
        proposal=_facts(ProposalFacts, _json_arg(proposal, "--proposal"), "--proposal"),
        aggregate=_facts(AggregateFacts, aggregate_map, "--aggregate") if aggregate_map else None,
        run=_facts(RunFacts, _json_arg(run, "--run"), "--run"),
    )
    decision = Gate(load_checked(path, domain, domain_commands, as_json)).explain(inp)
    if as_json:
        typer.echo(json.dumps(_decision_json(decision)))
        return
    console = Console()
    console.print(f"{coloured(decision.effect)} by rule [bold]{escape(decision.rule_id)}[/]: "
                  f"{escape(decision.reason)}", highlight=False)
    if decision.approvers is not None:
        a = decision.approvers
        console.print(f"approvers: {a.count} of {escape(', '.join(a.roles))}"
                      f"{' (distinct people per role)' if a.distinct else ''}, "
                      f"expires in {_span(a.expires_in)}", highlight=False)
    console.print(f"policy version {decision.policy_version}", highlight=False)
    table = Table("rule", "effect", "matched", "why", title=f"candidates for {escape(command)}")
    for t in decision.trace:
        why = escape(t.note) + (f"\n[red]error: {escape(t.error)}[/]" if t.error else "")
        table.add_row(escape(t.rule_id), coloured(t.effect), "yes" if t.matched else "no", why)
    if not decision.trace:
        table.add_row("(none)", "", "", "no rule names this command type")
    console.print(table)


@policy_app.command("test")
def run_tests(path: ExistingFile, scenarios: ExistingFile, domain: DomainFlag = None,
              domain_commands: DomainCommands = None, as_json: JsonFlag = False) -> None:
    """Run every scenario in SCENARIOS through PATH; exit 1 if any fails.

    A scenario names a principal (id, kind, tenant, roles), a command, a payload,
    optionally proposal/aggregate/run facts, and `expect` (allow/ask/deny) with
    optional `expect_rule` and `expect_approvers = {roles, count, distinct}`.
    A malformed scenario file is a failed check (exit 1); a missing one is bad
    usage (exit 2).
    """
    gate = Gate(load_checked(path, domain, domain_commands, as_json))
    try:
        cases = load_scenarios(scenarios)
    except LoadError as err:
        _failed(err, as_json)
    results = run_scenarios(gate, cases)
    failed = [r for r in results if not r.passed]
    if as_json:
        for r in results:
            typer.echo(json.dumps({
                "name": r.scenario.name, "passed": r.passed, "expected": r.scenario.expect,
                "effect": r.decision.effect, "rule_id": r.decision.rule_id,
                "approvers": r.decision.approvers.model_dump(mode="json")
                if r.decision.approvers else None,
                "failures": list(r.failures),
            }))
    else:
        table = Table("", "scenario", "expected", "got", "rule", "details")
        for r in results:
            mark = "[green]pass[/]" if r.passed else "[red]FAIL[/]"
            table.add_row(mark, escape(r.scenario.name), r.scenario.expect,
                          coloured(r.decision.effect), escape(r.decision.rule_id),
                          escape("; ".join(r.failures)))
        console = Console()
        console.print(table)
        summary = f"{len(results) - len(failed)} passed, {len(failed)} failed"
        if not failed:
            summary = f"all {len(results)} scenarios passed"
        console.print(summary, highlight=False)
    if failed:
        raise typer.Exit(1)


from signoff.server.cli.policy_matrix import matrix  # noqa: E402 (it uses the helpers above)

policy_app.command()(matrix)
from signoff.server.cli.policy_replay import replay  # noqa: E402

policy_app.command()(replay)
