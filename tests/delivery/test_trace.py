"""`signoff trace`: one request followed from the agent's tool calls through
the gate, the vote and the executor to every delivery and side effect."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from signoff.server.app import App
from signoff.server.clock import FixedClock
from signoff.server.delivery.sinks import BaseSink
from signoff.server.ops.trace import Trace, TraceStep, build_trace, trace_of
from signoff.server.services.proposals import CallContext
from signoff.store.records import OutboxMessage, RuntimeEntry
from tests.conftest import principal
from tests.core.helpers import invoke

from .conftest import RecordingSink, make_relay, notifier, send_notice

pytestmark = pytest.mark.anyio
RUN, CORRELATION = "run-7", "corr-7"


async def log_call(app: App, entry_id: str, tool: str, kind: str,
                   proposal_id: str | None = None) -> None:
    """What the MCP layer writes for each tool call."""
    entry = RuntimeEntry(
        entry_id=entry_id, tenant_id="acme", principal_id="agent:triage", tool=tool,
        kind="query" if kind == "query" else "command", arguments_digest="0" * 64,
        outcome="ok", latency_ms=3.0, run_id=RUN, correlation_id=CORRELATION,
        proposal_id=proposal_id, at=app.clock())
    await app.store.write(lambda uow: uow.runtime.append([entry]))


async def escalate(app: App, clock: FixedClock) -> str:
    """An agent reads, proposes an escalation; a supervisor approves it; the
    relay delivers everything. Returns the proposal id."""
    await log_call(app, "call-1", "get_case_context", "query")
    clock.advance(timedelta(seconds=1))
    receipt = await app.proposals.submit(principal(app, "agent:triage"), "case.escalate", {
        "case_id": "case-acme-001", "expected_version": 4, "confidence": 0.8,
        "evidence_refs": ["ev-acme-001-a"]}, CallContext(run_id=RUN, correlation_id=CORRELATION))
    assert receipt.status == "pending_approval", receipt
    assert receipt.proposal_id
    await log_call(app, "call-2", "propose_case_escalation", "command", receipt.proposal_id)
    clock.advance(timedelta(minutes=5))
    await make_relay(app, RecordingSink()).drain()
    clock.advance(timedelta(minutes=5))
    vote = await app.approvals.approve(principal(app, "user:alice"), receipt.proposal_id,
                                       digest=None, channel="console", comment="evidence holds")
    assert vote.proposal.status == "executed"
    clock.advance(timedelta(seconds=2))
    await make_relay(app, RecordingSink()).drain()
    return receipt.proposal_id


def by_kind(trace: Trace, kind: str) -> list[TraceStep]:
    return [s for s in trace.steps if s.kind == kind]


def one(trace: Trace, kind: str, text: str = "") -> TraceStep:
    [step] = [s for s in by_kind(trace, kind) if text in s.label]
    return step


async def test_the_trace_of_an_escalation_shows_every_step_in_causal_order(
    app: App, clock: FixedClock
) -> None:
    proposal_id = await escalate(app, clock)
    trace = await trace_of(app, proposal_id)
    assert trace is not None
    assert (trace.resolved_as, trace.correlation_ids, trace.proposal_ids) == (
        "proposal", [CORRELATION], [proposal_id])

    assert_time_flows_forward(trace)
    seen: set[str] = set()
    for step in trace.steps:  # causal order: every cause comes first
        assert set(step.caused_by) <= seen, step.step_id
        seen.add(step.step_id)

    read, command = by_kind(trace, "tool_call")
    proposal = one(trace, "proposal")
    decision = one(trace, "decision")
    vote = one(trace, "vote")
    approved = one(trace, "status", "approved")
    executed = one(trace, "status", "executed")
    result = one(trace, "result")
    event = one(trace, "event", "case.escalated")
    asked = one(trace, "delivery", "approval.requested")
    delivered = one(trace, "delivery", "case.escalated")

    assert (read.label, command.proposal_id) == (
        "query tool get_case_context -> ok", proposal_id)
    assert proposal.caused_by == [command.step_id]
    assert proposal.actor == "agent:triage"
    assert proposal.details["confidence"] == 0.8
    assert decision.caused_by == [proposal.step_id]
    assert decision.label == "policy: ask by rule escalate.ask-supervisor"
    assert decision.details["policy_version"] == app.gate().policy.version
    assert asked.caused_by == [decision.step_id]
    assert (asked.details["status"], asked.details["attempts"]) == ("published", 1)
    assert vote.caused_by == [decision.step_id]
    assert (vote.actor, vote.details["channel"], vote.details["comment"]) == (
        "user:alice", "console", "evidence holds")
    assert approved.caused_by == [vote.step_id]
    assert executed.caused_by == [approved.step_id]
    assert result.caused_by == [executed.step_id]
    assert result.label == "command result: accepted (executed)"
    assert event.caused_by == [executed.step_id]
    assert delivered.caused_by == [event.step_id]
    assert delivered.details["published_at"] is not None

    order = [s.step_id for s in trace.steps]
    chain = [read, command, proposal, decision, asked, vote, approved, executed, event, delivered]
    assert [order.index(s.step_id) for s in chain] == sorted(
        order.index(s.step_id) for s in chain)


def assert_time_flows_forward(trace: Trace) -> None:
    """No step happened before a step it names as its cause."""
    steps = {s.step_id: s for s in trace.steps}
    for step in trace.steps:
        for cause in map(steps.__getitem__, step.caused_by):
            if step.at is not None and cause.at is not None:
                assert cause.at <= step.at, (cause.step_id, step.step_id)


class Ticker(BaseSink):
    """Time passes while a batch is being published (after the consumer ran,
    before the relay marks the rows published)."""

    def __init__(self, clock: FixedClock) -> None:
        super().__init__("ticker", ["notice.sent"])
        self.clock = clock

    async def publish(self, message: OutboxMessage) -> None:
        self.clock.advance(timedelta(minutes=1))


async def test_a_notice_trace_reaches_the_side_effect_and_the_delivered_fact(
    app: App, clock: FixedClock
) -> None:
    await send_notice(app, correlation_id="corr-notice")
    clock.advance(timedelta(minutes=5))
    await make_relay(app, notifier(app), Ticker(clock)).drain()
    trace = await trace_of(app, "corr-notice")
    assert trace is not None
    assert trace.resolved_as == "correlation"
    steps = {s.step_id: s for s in trace.steps}
    assert_time_flows_forward(trace)

    delivered = one(trace, "event", "notice.delivered")
    chain = [delivered.kind]
    step = delivered
    while step.caused_by:
        step = steps[step.caused_by[0]]
        chain.append(step.kind)
    # The consumer's proposal was made while the message was being delivered:
    # the delivery caused it, not the inbox row written after it.
    assert chain[:7] == ["event", "status", "decision", "proposal", "delivery", "event",
                         "status"]
    service = one(trace, "proposal", "service:notifier")
    delivery = steps[service.caused_by[0]]
    assert delivery.label == "outbox notice.sent: published after 1 attempt(s)"
    [row] = await app.store.read(lambda uow: [
        m for m in uow.outbox.find(correlation_id="corr-notice") if m.topic == "notice.sent"])
    assert service.at is not None
    assert delivery.at == row.created_at < service.at
    assert delivery.details["published_at"] == clock.now > service.at
    effect = one(trace, "side_effect")
    assert effect.label == "notifier handled notice.sent"
    assert effect.caused_by == [delivery.step_id, service.step_id]
    assert service.details["idempotency_key"] == f"outbox:{row.message_id}"
    assert len(trace.proposal_ids) == 4  # draft, approve, send, record the delivery


async def test_only_the_tenants_own_service_is_followed_from_a_delivery(
    app: App, clock: FixedClock
) -> None:
    """An agent controls its idempotency key and correlation id: a proposal
    that copies the consumer's (in the same tenant or another) is not taken
    for a side effect of the delivery, and a proposal's trace stays in its
    tenant even for an operator."""
    await send_notice(app, correlation_id="corr-notice")
    await make_relay(app, notifier(app)).drain()
    proposals = await app.store.read(lambda uow: uow.proposals.by_correlation("corr-notice"))
    [sent] = [p for p in proposals if p.command_type == "notice.send"]
    [row] = await app.store.read(lambda uow: [
        m for m in uow.outbox.find(correlation_id="corr-notice") if m.topic == "notice.sent"])
    spoofs = []
    for tenant, case_id in (("acme", "case-acme-002"), ("globex", "case-globex-001")):
        spoof = await app.proposals.submit(
            principal(app, "agent:triage", tenant), "brief.create",
            {"case_id": case_id, "summary": "not a delivery", "confidence": 0.9,
             "idempotency_key": f"outbox:{row.message_id}"},
            CallContext(run_id="run-notice", correlation_id="corr-notice"))
        assert spoof.status == "executed", spoof
        spoofs.append(f"proposal:{spoof.proposal_id}")
    foreign = RuntimeEntry(
        entry_id="globex-call", tenant_id="globex", principal_id="agent:triage",
        tool="get_case_context", kind="query", arguments_digest="0" * 64, outcome="ok",
        latency_ms=1.0, run_id="run-notice", correlation_id="corr-notice", at=app.clock())
    await app.store.write(lambda uow: uow.runtime.append([foreign]))

    by_proposal = await trace_of(app, sent.proposal_id)  # operator access: no tenant given
    assert by_proposal is not None
    ids = {s.step_id for s in by_proposal.steps}
    assert not ids & {*spoofs, "call:globex-call"}
    assert by_proposal.tenant_id == "acme"
    assert one(by_proposal, "proposal", "service:notifier")

    by_correlation = await trace_of(app, "corr-notice", tenant="acme")
    assert by_correlation is not None
    steps = {s.step_id: s for s in by_correlation.steps}
    assert spoofs[0] in steps  # it shares the correlation id, so it is in the trace ...
    assert not any(c.startswith(("delivery:", "inbox:"))  # ... but caused by no delivery
                   for c in steps[spoofs[0]].caused_by)
    assert spoofs[1] not in steps


async def test_the_trace_is_tenant_scoped_and_redacts(app: App, clock: FixedClock) -> None:
    proposal_id = await escalate(app, clock)
    assert await trace_of(app, proposal_id, tenant="globex") is None
    assert await trace_of(app, "no-such-id") is None
    scoped = await trace_of(app, proposal_id, tenant="acme")
    assert scoped is not None
    assert scoped.steps

    brief = await app.proposals.submit(principal(app, "agent:triage"), "brief.create", {
        "case_id": "case-acme-002", "summary": "confidential assessment", "confidence": 0.9})
    assert brief.proposal_id
    redacted = await app.store.read(
        lambda uow: build_trace(uow, str(brief.proposal_id), None, frozenset({"summary"})))
    assert redacted is not None
    proposal = one(redacted, "proposal")
    assert proposal.details["payload"]["summary"] == "[redacted]"
    assert "confidential" not in redacted.model_dump_json()


async def test_the_trace_command(app: App, clock: FixedClock) -> None:
    proposal_id = await escalate(app, clock)
    db = str(app.settings.db)
    as_json = await invoke(["trace", proposal_id, "--db", db, "--json"])
    assert as_json.exit_code == 0, as_json.output
    lines = [json.loads(line) for line in as_json.stdout.splitlines()]
    expected = await trace_of(app, proposal_id)
    assert expected is not None
    assert [line["step_id"] for line in lines] == [s.step_id for s in expected.steps]
    assert {"step_id", "kind", "at", "actor", "label", "caused_by", "details"} <= set(lines[0])

    human = await invoke(["trace", CORRELATION, "--db", db])
    assert human.exit_code == 0, human.output
    for text in ("trace of corr-7", "policy: ask by rule escalate.ask-supervisor",
                 "user:alice voted approve via console", "case.escalated", "approval.requested"):
        assert text in human.stdout, text

    missing = await invoke(["trace", "prop_nope", "--db", db])
    assert missing.exit_code == 1
    assert "no proposal or correlation id 'prop_nope'" in missing.stderr


async def test_a_call_is_linked_to_the_proposal_it_made_whatever_its_run(app: App) -> None:
    """A call recorded without a run or correlation id (as before signoff
    derived runs for clients that send none) still leads to its proposal."""
    receipt = await app.proposals.submit(principal(app, "agent:triage"), "brief.create", {
        "case_id": "case-acme-002", "summary": "noted", "confidence": 0.9}, CallContext())
    assert receipt.proposal_id
    made = RuntimeEntry(
        entry_id="made-it", tenant_id="acme", principal_id="agent:triage",
        tool="create_analyst_brief", kind="command", arguments_digest="0" * 64,
        outcome="accepted", latency_ms=2.0, proposal_id=receipt.proposal_id, at=app.clock())
    await app.store.write(lambda uow: uow.runtime.append([made]))
    trace = await trace_of(app, receipt.proposal_id)
    assert trace is not None
    call = one(trace, "tool_call")
    assert (call.step_id, call.label) == (
        "call:made-it", "command tool create_analyst_brief -> accepted")
    assert one(trace, "proposal").caused_by == [call.step_id]
