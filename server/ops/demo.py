"""The scripted demo session (SPEC.md, `signoff demo`).

One agent session through a real `mcp.Client` against the real server object
(in-process: the same `SignoffServer` `signoff serve` runs, without a pipe in
between), as `agent:triage` in tenant `acme`: read the cases, get a summary,
search evidence, read the context view, draft a notice (the policy allows it:
executed at once), propose an escalation (the policy asks a supervisor: it
waits). Then a reviewer who is not the agent - `user:alice`, a supervisor -
approves it the way `signoff review approve` does, the executor commits it,
the agent sees it executed through get_proposal, and the trace of it all is
read back from the store.

The session is plain data (`Step`s); `cli/demo.py` renders it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, cast

from mcp import Client
from mcp_types import RequestParamsMeta

from signoff.policies import PrincipalFacts
from signoff.server.app import App
from signoff.server.errors import SignoffError
from signoff.server.mcp import FixedIdentity, build_server
from signoff.server.ops.trace import trace_of

TENANT = "acme"
AGENT = "agent:triage"
REVIEWER = "user:alice"
CASE = "case-acme-001"

StepKind = Literal["tool", "review", "trace"]


class DemoError(SignoffError):
    """The session did not go as scripted (the data or policy is not the demo's)."""


@dataclass(frozen=True)
class Step:
    number: int
    title: str
    kind: StepKind
    tool: str | None = None
    arguments: dict[str, Any] = field(default_factory=dict)
    result: dict[str, Any] = field(default_factory=dict)
    is_error: bool = False

    def as_json(self) -> dict[str, Any]:
        return {"step": self.number, "title": self.title, "kind": self.kind, "tool": self.tool,
                "arguments": self.arguments, "result": self.result, "is_error": self.is_error}


OnStep = Callable[[Step], None]


def facts(app: App, principal_id: str) -> PrincipalFacts:
    record = app.principals.get(principal_id)
    if record is None:
        raise DemoError(f"the principals file has no {principal_id}")
    return record.facts(TENANT)


class Session:
    """Numbers the steps and tags every tool call with the demo's run id."""

    def __init__(self, client: Client, run_id: str, on_step: OnStep) -> None:
        self._client = client
        self._run_id = run_id
        self._on_step = on_step
        self.steps: list[Step] = []

    def record(self, title: str, kind: StepKind, result: dict[str, Any], *,
               tool: str | None = None, arguments: dict[str, Any] | None = None,
               is_error: bool = False) -> Step:
        step = Step(len(self.steps) + 1, title, kind, tool, arguments or {}, result, is_error)
        self.steps.append(step)
        self._on_step(step)
        return step

    async def peek(self, tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
        """A call that is not a step of the story (polling)."""
        result = await self._client.call_tool(tool, arguments)
        return dict(result.structured_content or {})

    async def call(self, title: str, tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
        meta = cast(RequestParamsMeta, {"signoff/run_id": self._run_id})
        result = await self._client.call_tool(tool, arguments, meta=meta)
        data = result.structured_content or {
            "text": " ".join(getattr(c, "text", "") for c in result.content)}
        self.record(title, "tool", data, tool=tool, arguments=arguments, is_error=result.is_error)
        return data


def expect(data: dict[str, Any], key: str, wanted: str) -> None:
    if data.get(key) != wanted:
        raise DemoError(f"expected {key} {wanted!r}, got {data.get(key)!r}: {data}")


async def play(app: App, on_step: OnStep = lambda _step: None) -> list[Step]:
    """Run the scripted session on a seeded app; returns the steps in order."""
    agent, reviewer = facts(app, AGENT), facts(app, REVIEWER)
    run_id = app.ids("run")
    server = build_server(app, FixedIdentity(agent))
    async with server.running(), Client(server) as client:
        s = Session(client, run_id, on_step)
        await s.call("The agent lists the cases it can see", "list_cases", {})
        summary = await s.call("It reads one case's summary", "get_case_summary",
                               {"case_id": CASE})
        found = await s.call("It searches the case's evidence", "search_evidence",
                             {"case_id": CASE, "query": "fees"})
        refs = [item["evidence_id"] for item in found.get("items", [])][:2]
        if not refs:
            raise DemoError(f"no evidence found for {CASE}")
        await s.call("It reads the context view before proposing", "get_case_context",
                     {"case_id": CASE})
        draft = await s.call(
            "It drafts a notice: the policy allows drafts, so it executes at once",
            "create_notice_draft",
            {"case_id": CASE, "body": "We have reason to believe your fee disclosures are "
             "incomplete. Please provide your full fee schedule within 14 days.",
             "rationale": "Statements show a platform fee missing from the schedule.",
             "evidence_refs": refs, "confidence": 0.8,
             "idempotency_key": f"{run_id}-notice"})
        expect(draft, "status", "executed")
        escalation = await s.call(
            "It proposes escalating the case: the policy asks a supervisor, so it waits",
            "propose_case_escalation",
            {"case_id": CASE, "expected_version": summary["version"],
             "rationale": "Undisclosed fees confirmed by statements and a recorded call.",
             "evidence_refs": refs, "confidence": 0.85,
             "idempotency_key": f"{run_id}-escalate"})
        expect(escalation, "status", "pending_approval")
        proposal_id = str(escalation["proposal_id"])
        await _review(app, s, reviewer, proposal_id)
        final = await s.call("The agent follows up: the escalation is executed",
                             "get_proposal", {"proposal_id": proposal_id})
        expect(final, "status", "executed")
        await server.runtime_log.flush()
        trace = await trace_of(app, proposal_id, TENANT)
        if trace is None:
            raise DemoError(f"no trace of {proposal_id}")
        s.record("The trace of it all (signoff trace)", "trace", trace.model_dump(mode="json"))
    return s.steps


async def _review(app: App, s: Session, reviewer: PrincipalFacts, proposal_id: str) -> None:
    """The reviewer approves the digest they were shown, as `signoff review
    approve` would; quorum is one supervisor, so the executor commits it."""
    proposal = await app.store.read(lambda uow: uow.proposals.get(proposal_id, TENANT))
    if proposal is None:
        raise DemoError(f"proposal {proposal_id} vanished")
    vote = await app.approvals.approve(
        reviewer, proposal_id, digest=proposal.payload_digest, channel="cli",
        comment="Evidence is solid; escalate.")
    execution = vote.execution
    s.record(f"A reviewer ({reviewer.id}, {', '.join(reviewer.roles)}) approves it, "
             "and the executor commits it", "review", {
                 "voter": reviewer.id, "roles": list(vote.vote.voter_roles),
                 "channel": vote.vote.channel, "payload_digest": vote.vote.payload_digest,
                 "still_needed": vote.still_needed, "status": vote.proposal.status,
                 "events": [{"event_type": e.event_type, "aggregate_id": e.aggregate_id,
                             "aggregate_version": e.aggregate_version, "position": e.position}
                            for e in (execution.events if execution else [])],
             })
    if vote.proposal.status != "executed":
        raise DemoError(f"expected the approved proposal to execute; it is "
                        f"{vote.proposal.status}")
