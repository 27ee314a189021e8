"""How `signoff review` prints the queue and one proposal for a terminal:
every agent-written string escaped (see `common.escape`), ids never broken."""

from __future__ import annotations

import json
from typing import Any

from rich.table import Table

from signoff.server.cli.common import escape, out
from signoff.server.cli.review_call import print_call
from signoff.server.services.review_views import ProposalView, QueueItem, span


def print_queue(items: list[QueueItem], with_status: bool) -> None:
    """Two lines per proposal: readable in any terminal width, ids unbroken."""
    for i in items:
        expires = "no expiry" if i.expires_in_seconds is None else (
            f"[red]overdue {span(i.expires_in_seconds)}[/red]" if i.overdue
            else f"expires in {span(i.expires_in_seconds)}")
        status = f"  [{i.status}]" if with_status else ""
        out.print(f"[bold]{escape(i.proposal_id)}[/bold]  {escape(i.command_type)}  "
                  f"{escape(i.tenant_id)}: {escape(i.aggregate_type)}/{escape(i.aggregate_id)}"
                  f"  by {escape(i.proposer_id)}{escape(status)}", overflow="fold")
        out.print(f"    needs {escape(i.still_needed)} · age {span(i.age_seconds)} · {expires}",
                  overflow="fold")


def dumps(value: Any) -> str:
    return escape(json.dumps(value, ensure_ascii=False, sort_keys=True, default=str))


def print_view(v: ProposalView) -> None:
    d = v.decision
    who = v.proposer.display_name or v.proposer.id
    out.print(f"[bold]{escape(v.proposal_id)}[/bold]  {v.status}"
              + (f" — {escape(v.status_reason)}" if v.status_reason else ""))
    if v.summary:
        out.print(f"[bold]{escape(v.summary)}[/bold]", overflow="fold")
    if v.call is not None:  # an upstream call: what approving will call comes first
        print_call(v.call)
    for f in v.review_fields:  # what the command says a reviewer must see, first
        value = f.value if isinstance(f.value, str) else json.dumps(f.value, default=str)
        where = "as proposed" if f.source == "payload" else f"on the {v.aggregate_type}"
        out.print(f"{escape(f.name)} ({escape(where)}): {escape(value)}", overflow="fold")
    run = f" in run {escape(v.run_id)}" if v.run_id else ""
    out.print(f"tenant {escape(v.tenant_id)}; proposed by {escape(who)} "
              f"({escape(v.proposer.id)}, {v.proposer.kind}){run}, "
              f"correlation {escape(v.correlation_id)}, {span(v.age_seconds)} ago")
    out.print(f"command {escape(v.command_type)} (tool {escape(v.tool or '-')}) on "
              f"{escape(v.aggregate_type)}/{escape(v.aggregate_id)}, expected version "
              f"{v.expected_version if v.expected_version is not None else '-'}")
    out.print(f"payload {dumps(v.payload)}")
    out.print(f"payload digest {v.payload_digest}")
    out.print(f"rationale (the proposer's claim): {escape(v.rationale) or '-'}")
    out.print(f"confidence (claimed): {v.confidence:.2f}")
    for e in v.evidence:
        title = escape(e.title) if e.found and e.title else "[red]not found[/red]"
        out.print(f"  evidence {escape(e.ref)}: {title}")
    out.print(f"decision {d.effect} by rule {escape(d.rule_id)} (policy {d.policy_version}): "
              f"{escape(d.reason)}")
    if d.effect == "ask":
        out.print(f"approvers: {d.approvers_required} of {escape(', '.join(d.approver_roles))}"
                  f"{', distinct people' if d.distinct else ''}"
                  f"{'; the requester may confirm' if d.confirm == 'requester' else ''}")
    for vote in v.votes:
        out.print(f"  vote {vote.verdict} by {escape(vote.voter_id)} "
                  f"({escape(', '.join(vote.voter_roles) or 'no role')}) via {vote.channel}"
                  + (f": {escape(vote.comment)}" if vote.comment else ""))
    out.print(f"still needed: {escape(v.still_needed)}")
    if v.expires_at is not None:
        when = "overdue since" if v.overdue else "expires"
        left = span(v.expires_in_seconds)
        left = f"{left} ago" if v.overdue else f"in {left}"
        out.print(f"{when} {v.expires_at.strftime('%Y-%m-%d %H:%M UTC')} ({left})")
    print_change(v)


def print_change(v: ProposalView) -> None:
    if v.committed_events:
        out.print("committed events:")
        for ev in v.committed_events:
            out.print(f"  #{ev.position} {escape(ev.event_type)} v{ev.aggregate_version} "
                      f"{dumps(ev.payload)}")
    c = v.change
    if c is None:
        return
    out.print(f"[bold]approving would[/bold] ({escape(c.aggregate_type)}/"
              f"{escape(c.aggregate_id)} at version {c.current_version}):")
    if c.outcome != "events":
        out.print(f"  [red]{c.outcome}[/red]: {escape(c.reason)}")
        return
    for new in c.events:
        out.print(f"  append {escape(new.event_type)} v{new.event_version} {dumps(new.payload)}")
    table = Table("field", "now", "after approval")
    for change in c.changes:
        table.add_row(escape(change.field), dumps(change.before),
                      escape(c.given_on_commit.get(change.field, "")) or dumps(change.after))
    if c.changes:
        out.print(table)
    for name, doc in c.read_models.items():
        out.print(f"  read model {escape(name)} now: {dumps(doc)}")
