"""The lines of `signoff export`, built from what the store recorded.

Pure functions from stored documents (`signoff.store.datasets`: records'
JSON, read without validating them again) to JSON-ready dicts, the `jsonl`
format; the other formats are shaped from these, in `exports_formats`:

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
from datetime import datetime
from typing import Any

from signoff.store.datasets import Doc

# The queries kept before a proposal: the latest ones, so a line stays small
# however long the run was (each result is at most 4 KiB already).
MAX_CONTEXT = 20
ACCEPTED = frozenset({"approved", "executing", "executed", "failed", "conflict",
                      "outcome_unknown"})
_CALL_KEYS = ("entry_id", "tool", "kind", "at", "latency_ms", "outcome")


def call_line(entry: Doc) -> dict[str, Any]:
    line = {key: entry[key] for key in _CALL_KEYS}
    line["arguments"] = entry.get("arguments")
    line["result"] = entry.get("result")
    line["proposal_id"] = entry.get("proposal_id")
    return line


def calls_missing(entries: Sequence[Doc]) -> list[str]:
    missing = []
    if any(e.get("arguments") is None for e in entries):
        missing.append("arguments")
    if any(e.get("result") is None for e in entries):
        missing.append("results")
    return missing


def policy_input(proposal: Doc, decision: Doc) -> dict[str, Any] | None:
    """The `PolicyInput` the decision judged, as its JSON: the proposal and
    what the decision kept (`judging.recorded_input`, on documents); None
    when it kept nothing (recorded before it did)."""
    judged = decision.get("judged")
    if judged is None:
        return None
    actor = proposal["actor"]
    return {
        "principal": {"id": actor["id"],
                      "kind": "service" if actor["kind"] == "system" else actor["kind"],
                      "tenant": proposal["tenant_id"], "roles": proposal.get("actor_roles", [])},
        "command_type": proposal["command_type"], "payload": proposal["payload"],
        "proposal": {"rationale": proposal.get("rationale", ""),
                     "evidence_refs": proposal.get("evidence_refs", []),
                     "confidence": proposal.get("confidence", 0.0)},
        "aggregate": judged.get("aggregate"),
        "run": {"id": None, "proposals_so_far": 0, "principal_proposals_last_hour": 0,
                **(judged.get("run") or {})},
    }


def decision_doc(proposal: Doc, decision: Doc) -> dict[str, Any]:
    return {"effect": decision["effect"], "rule_id": decision["rule_id"],
            "reason": decision["reason"], "policy_version": decision["policy_version"],
            "stage": decision.get("stage", "submit"), "decided_at": decision["decided_at"],
            "approvers_required": decision.get("approvers_required", 0),
            "approver_roles": decision.get("approver_roles", []),
            "input": policy_input(proposal, decision)}


def vote_doc(vote: Doc) -> dict[str, Any]:
    return {"voter_id": vote["voter_id"], "voter_roles": vote["voter_roles"],
            "verdict": vote["verdict"], "comment": vote.get("comment", ""),
            "channel": vote["channel"], "cast_at": vote["cast_at"]}


def verdict_doc(proposal: Doc, last: Doc, votes: Sequence[Doc]) -> dict[str, Any]:
    """Who settled the proposal and how: the policy alone, or reviewers."""
    status = proposal["status"]
    outcome = ("accepted" if status in ACCEPTED else
               "pending" if status == "pending_approval" else status)
    by = ("proposer" if status == "withdrawn" else "expiry" if status == "expired" else
          "reviewers" if votes else "policy")
    reason = (proposal.get("status_reason") or (votes[-1].get("comment") if votes else "")
              or (last["reason"] if by == "policy" else ""))
    return {"outcome": outcome, "status": status, "by": by, "reason": reason,
            "votes": [vote_doc(v) for v in votes]}


def settled(proposal: Doc, decisions: Sequence[Doc], votes: Sequence[Doc]
            ) -> tuple[dict[str, Any], list[str]]:
    """The decision, later re-decisions, verdict of a proposal; what is
    missing. `decisions`: every one, where it was decided more than once;
    none, where its own document holds its one decision."""
    decisions = list(decisions) or [proposal["decision"]]
    first, *later = decisions
    doc = {"decision": decision_doc(proposal, first),
           "later_decisions": [decision_doc(proposal, d) for d in later],
           "verdict": verdict_doc(proposal, decisions[-1], votes)}
    missing = ["policy_input"] if any(d.get("judged") is None for d in decisions) else []
    return doc, missing


def run_line(calls: Sequence[Doc], proposals: dict[str, Doc],
             decisions: dict[str, list[Doc]], votes: dict[str, list[Doc]]) -> dict[str, Any]:
    first, last = calls[0], calls[-1]
    missing = set(calls_missing(calls))
    lines = []
    for entry in calls:
        line = call_line(entry)
        proposal = proposals.get(entry.get("proposal_id") or "")
        if entry["kind"] == "command" and proposal is not None:
            pid = proposal["proposal_id"]
            doc, lacking = settled(proposal, decisions.get(pid, ()), votes.get(pid, ()))
            line |= {"command_type": proposal["command_type"], **doc}
            missing.update(lacking)
        lines.append(line)
    return {"run_id": first.get("run_id"), "tenant_id": first["tenant_id"],
            "principal_id": first["principal_id"], "run_source": first.get("run_source"),
            "started_at": first["at"], "ended_at": last["at"],
            "calls": lines, "missing": sorted(missing)}


def proposal_doc(proposal: Doc, made_by: Doc | None) -> dict[str, Any]:
    return {"tool": made_by["tool"] if made_by else None,
            "command_type": proposal["command_type"],
            "aggregate_type": proposal["aggregate_type"],
            "aggregate_id": proposal["aggregate_id"],
            "expected_version": proposal.get("expected_version"),
            "payload": proposal["payload"], "rationale": proposal.get("rationale", ""),
            "evidence_refs": proposal.get("evidence_refs", []),
            "confidence": proposal.get("confidence", 0.0),
            "arguments": made_by.get("arguments") if made_by else None,
            "created_at": proposal["created_at"]}


def context_of(proposal: Doc, run: Sequence[Doc]) -> tuple[Doc | None, list[Doc]]:
    """The call that made `proposal`, and the queries of its run before it
    (before the proposal's time when no call of the run made it)."""
    pid = proposal["proposal_id"]
    at = next((i for i, e in enumerate(run)
               if e["kind"] == "command" and e.get("proposal_id") == pid), None)
    if at is not None:
        made_by, before = run[at], run[:at]
    else:
        made_by, before = None, [e for e in run if _before(e["at"], proposal["created_at"])]
    return made_by, [e for e in before if e["kind"] == "query"]


def _before(one: str, other: str) -> bool:
    return datetime.fromisoformat(one) < datetime.fromisoformat(other)


def decision_line(proposal: Doc, run: Sequence[Doc], decisions: Sequence[Doc],
                  votes: Sequence[Doc]) -> dict[str, Any]:
    made_by, queries = context_of(proposal, run)
    kept = queries[-MAX_CONTEXT:]
    doc, missing = settled(proposal, decisions, votes)
    missing += calls_missing([*kept, *([made_by] if made_by else [])])
    if made_by is None:
        missing.append("tool_call")
    actor = proposal["actor"]
    return {"proposal_id": proposal["proposal_id"], "tenant_id": proposal["tenant_id"],
            "run_id": proposal.get("run_id"),
            "principal": {"id": actor["id"], "kind": actor["kind"],
                          "roles": proposal.get("actor_roles", [])},
            "context": [call_line(e) for e in kept],
            "context_dropped": len(queries) - len(kept),
            "proposal": proposal_doc(proposal, made_by), **doc,
            "missing": sorted(set(missing))}
