"""The lines of `signoff export`, built from what the store recorded.

Pure functions from records to JSON-ready dicts (the `jsonl` format; the
other formats are shaped from these, in `exports_formats`):

- a **run line**: one agent run, its tool calls in order with arguments,
  results and, for a call that made a proposal, its decision and verdict;
- a **decision line**: one decided proposal, with what the agent had read
  before proposing (the queries before it in its run), the proposal, the
  policy's decision with the input it judged, and the human verdict with its
  reason and votes.

What a store recorded before it kept something is never made up: the line
holds None there and its `missing` names it ("arguments", "results" of
calls; "policy_input" of a decision; "tool_call" when no runtime-log entry
made the proposal, so what the agent read before it is unknown).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from signoff.server.services.judging import recorded_input
from signoff.store.records import DecisionRecord, ProposalRecord, RuntimeEntry, Vote

# The queries kept before a proposal: the latest ones, so a line stays small
# however long the run was (each result is at most 4 KiB already).
MAX_CONTEXT = 20
ACCEPTED = frozenset({"approved", "executing", "executed", "failed", "conflict",
                      "outcome_unknown"})


def call_line(entry: RuntimeEntry) -> dict[str, Any]:
    return {"entry_id": entry.entry_id, "tool": entry.tool, "kind": entry.kind,
            "at": entry.at.isoformat(), "latency_ms": entry.latency_ms,
            "outcome": entry.outcome, "arguments": entry.arguments, "result": entry.result,
            "proposal_id": entry.proposal_id}


def calls_missing(entries: Sequence[RuntimeEntry]) -> list[str]:
    missing = []
    if any(e.arguments is None for e in entries):
        missing.append("arguments")
    if any(e.result is None for e in entries):
        missing.append("results")
    return missing


def decision_doc(proposal: ProposalRecord, decision: DecisionRecord) -> dict[str, Any]:
    judged = recorded_input(proposal, decision)
    return {"effect": decision.effect, "rule_id": decision.rule_id, "reason": decision.reason,
            "policy_version": decision.policy_version, "stage": decision.stage,
            "decided_at": decision.decided_at.isoformat(),
            "approvers_required": decision.approvers_required,
            "approver_roles": list(decision.approver_roles),
            "input": judged.model_dump(mode="json") if judged is not None else None}


def vote_doc(vote: Vote) -> dict[str, Any]:
    return {"voter_id": vote.voter_id, "voter_roles": list(vote.voter_roles),
            "verdict": vote.verdict, "comment": vote.comment, "channel": vote.channel,
            "cast_at": vote.cast_at.isoformat()}


def verdict_doc(proposal: ProposalRecord, decisions: Sequence[DecisionRecord],
                votes: Sequence[Vote]) -> dict[str, Any]:
    """Who settled the proposal and how: the policy alone, or reviewers."""
    status = proposal.status
    outcome = ("accepted" if status in ACCEPTED else
               "pending" if status == "pending_approval" else status)
    by = ("proposer" if status == "withdrawn" else "expiry" if status == "expired" else
          "reviewers" if votes else "policy")
    last = decisions[-1] if decisions else proposal.decision
    reason = (proposal.status_reason or (votes[-1].comment if votes else "")
              or (last.reason if by == "policy" else ""))
    return {"outcome": outcome, "status": status, "by": by, "reason": reason,
            "votes": [vote_doc(v) for v in votes]}


def settled(proposal: ProposalRecord, decisions: Sequence[DecisionRecord],
            votes: Sequence[Vote]) -> tuple[dict[str, Any], list[str]]:
    """The decision, later re-decisions, verdict of a proposal; what is missing."""
    decisions = list(decisions) or [proposal.decision]
    first, *later = decisions
    doc = {"decision": decision_doc(proposal, first),
           "later_decisions": [decision_doc(proposal, d) for d in later],
           "verdict": verdict_doc(proposal, decisions, votes)}
    missing = ["policy_input"] if any(d.judged is None for d in decisions) else []
    return doc, missing


def run_line(calls: Sequence[RuntimeEntry], proposals: dict[str, ProposalRecord],
             decisions: dict[str, list[DecisionRecord]],
             votes: dict[str, list[Vote]]) -> dict[str, Any]:
    first, last = calls[0], calls[-1]
    missing = set(calls_missing(calls))
    lines = []
    for entry in calls:
        line = call_line(entry)
        proposal = proposals.get(entry.proposal_id or "")
        if entry.kind == "command" and proposal is not None:
            doc, lacking = settled(proposal, decisions.get(proposal.proposal_id, ()),
                                   votes.get(proposal.proposal_id, ()))
            line |= {"command_type": proposal.command_type, **doc}
            missing.update(lacking)
        lines.append(line)
    return {"run_id": first.run_id, "tenant_id": first.tenant_id,
            "principal_id": first.principal_id, "run_source": first.run_source,
            "started_at": first.at.isoformat(), "ended_at": last.at.isoformat(),
            "calls": lines, "missing": sorted(missing)}


def proposal_doc(proposal: ProposalRecord, made_by: RuntimeEntry | None) -> dict[str, Any]:
    return {"tool": made_by.tool if made_by else None, "command_type": proposal.command_type,
            "aggregate_type": proposal.aggregate_type, "aggregate_id": proposal.aggregate_id,
            "expected_version": proposal.expected_version, "payload": proposal.payload,
            "rationale": proposal.rationale, "evidence_refs": list(proposal.evidence_refs),
            "confidence": proposal.confidence,
            "arguments": made_by.arguments if made_by else None,
            "created_at": proposal.created_at.isoformat()}


def context_of(proposal: ProposalRecord, run: Sequence[RuntimeEntry]
               ) -> tuple[RuntimeEntry | None, list[RuntimeEntry]]:
    """The call that made `proposal`, and the queries of its run before it
    (before the proposal's time when no call of the run made it)."""
    made_by = next((e for e in run if e.kind == "command"
                    and e.proposal_id == proposal.proposal_id), None)
    if made_by is not None:
        before = run[:run.index(made_by)]
    else:
        before = [e for e in run if e.at < proposal.created_at]
    return made_by, [e for e in before if e.kind == "query"]


def decision_line(proposal: ProposalRecord, run: Sequence[RuntimeEntry],
                  decisions: Sequence[DecisionRecord], votes: Sequence[Vote]) -> dict[str, Any]:
    made_by, queries = context_of(proposal, run)
    kept = queries[-MAX_CONTEXT:]
    doc, missing = settled(proposal, decisions, votes)
    missing += calls_missing([*kept, *([made_by] if made_by else [])])
    if made_by is None:
        missing.append("tool_call")
    actor = proposal.actor
    return {"proposal_id": proposal.proposal_id, "tenant_id": proposal.tenant_id,
            "run_id": proposal.run_id,
            "principal": {"id": actor.id, "kind": actor.kind,
                          "roles": list(proposal.actor_roles)},
            "context": [call_line(e) for e in kept],
            "context_dropped": len(queries) - len(kept),
            "proposal": proposal_doc(proposal, made_by), **doc,
            "missing": sorted(set(missing))}
