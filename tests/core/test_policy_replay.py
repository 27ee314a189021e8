"""Recorded proposals judged again under another policy: each decision that
would change, counted per transition, on a real database of the casework demo."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from signoff.policies import Policy, load_policy, parse_policy
from signoff.policies.replay import Recorded, replay
from signoff.server.app import App, example_file
from signoff.server.ops.replay import replay_since
from tests.conftest import principal

from .helpers import case_version

pytestmark = pytest.mark.anyio
EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


def variant(app: App, old: str, new: str) -> Policy:
    text = example_file("policy.toml").read_text()
    assert old in text
    return parse_policy(text.replace(old, new), known_commands=app.commands.names())


async def record_some(app: App) -> None:
    """An allowed brief, an escalation that waits, a risk update that waits."""
    agent = principal(app, "agent:triage")
    receipts = [
        await app.proposals.submit(agent, "brief.create", {
            "case_id": "case-acme-001", "summary": "Fees.", "confidence": 0.9}),
        await app.proposals.submit(agent, "case.escalate", {
            "case_id": "case-acme-001",
            "expected_version": await case_version(app, "case-acme-001"),
            "evidence_refs": ["ev-acme-001-a"], "confidence": 0.8}),
        await app.proposals.submit(agent, "case.update_risk", {
            "case_id": "case-acme-002", "risk_level": "critical",
            "expected_version": await case_version(app, "case-acme-002"), "confidence": 0.95}),
    ]
    assert [r.status for r in receipts] == ["executed", "pending_approval", "pending_approval"]


async def test_the_same_policy_changes_nothing(app: App) -> None:
    await record_some(app)
    report = await replay_since(app.store, app.gate().policy, EPOCH)
    assert (report.judged, report.unchanged, report.changes) == (3, 3, [])


async def test_a_stricter_policy_reports_each_decision_that_tightens(app: App) -> None:
    await record_some(app)
    stricter = variant(app, 'id = "brief.allow"\ncommands = ["brief.create"]\neffect = "allow"',
                       'id = "brief.allow"\ncommands = ["brief.create"]\neffect = "deny"')
    report = await replay_since(app.store, stricter, EPOCH)
    assert [(c.command_type, c.transition, c.direction) for c in report.changes] == [
        ("brief.create", "allow->deny", "stricter")]
    assert report.transitions == {"allow->deny": 1}
    assert report.loosened == []


async def test_a_looser_policy_is_reported_as_loosening(app: App) -> None:
    await record_some(app)
    looser = variant(app, 'reason = "escalating a case needs a supervisor\'s approval"\n'
                     'approvers = { roles = ["supervisor"], count = 1 }',
                     'reason = "escalating a case needs a supervisor\'s approval"\n'
                     'approvers = { roles = ["supervisor"], count = 1 }\n'
                     '\n[[rule]]\nid = "escalate.allow-all"\ncommands = ["case.escalate"]\n'
                     'effect = "allow"\nreason = "trust the agent"')
    report = await replay_since(app.store, looser, EPOCH)
    # an ask still beats the new allow: nothing loosens by adding an allow beside an ask
    assert report.loosened == []
    looser = variant(app, 'effect = "ask"\nreason = "escalating a case needs a supervisor\'s '
                     'approval"\napprovers = { roles = ["supervisor"], count = 1 }',
                     'effect = "allow"\nreason = "escalating a case needs a supervisor\'s '
                     'approval"')
    report = await replay_since(app.store, looser, EPOCH)
    assert [(c.transition, c.direction) for c in report.loosened] == [("ask->allow", "looser")]


def test_a_decision_without_its_input_is_counted_never_guessed(tmp_path: Path) -> None:
    policy = load_policy(example_file("policy.toml"))
    report = replay(policy, [Recorded("p1", "brief.create", "allow", "brief.allow")])
    assert (report.judged, report.missing_input, report.changes) == (0, 1, [])


async def test_widening_an_asks_roles_is_loosening(app: App) -> None:
    await record_some(app)
    wider = variant(app, 'reason = "escalating a case needs a supervisor\'s approval"\n'
                    'approvers = { roles = ["supervisor"], count = 1 }',
                    'reason = "escalating a case needs a supervisor\'s approval"\n'
                    'approvers = { roles = ["supervisor", "analyst"], count = 1 }')
    report = await replay_since(app.store, wider, EPOCH)
    assert [(c.command_type, c.direction) for c in report.loosened] == [
        ("case.escalate", "looser")]
