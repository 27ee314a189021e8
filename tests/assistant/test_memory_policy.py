"""The demo policy over memory writes, through the real gate and executor:
plain notes are saved, facts about people wait for the owner (a person;
agents never approve), anything that looks like a secret is refused."""

from __future__ import annotations

import pytest

from signoff.server.app import App
from signoff.server.errors import Forbidden
from tests.assistant.conftest import propose, who

pytestmark = pytest.mark.anyio


async def test_a_plain_note_is_saved_at_once(app: App) -> None:
    receipt = await propose(app, "memory.save", text="Buy oat milk on Fridays")
    assert (receipt.status, receipt.decision and receipt.decision.rule_id) == (
        "executed", "memory.allow-notes")
    assert [e.event_type for e in receipt.events] == ["memory.saved"]


@pytest.mark.parametrize("payload", [
    {"text": "Dana is allergic to peanuts", "kind": "person_fact"},
    {"text": "Birthday on 4 May", "subject": "person:dana"},
])
async def test_a_fact_about_a_person_waits_for_the_owner(app: App, payload: dict[str, str]
                                                         ) -> None:
    receipt = await propose(app, "memory.save", **payload)
    assert receipt.status == "pending_approval"
    assert receipt.decision is not None
    assert receipt.decision.rule_id == "memory.ask-person-facts"
    assert receipt.decision.approver_roles == ["owner"]
    assert receipt.events == []  # nothing committed while it waits


async def test_the_owner_approves_and_an_agent_cannot(app: App) -> None:
    receipt = await propose(app, "memory.save", text="Dana is allergic to peanuts",
                            kind="person_fact", subject="person:dana")
    assert receipt.proposal_id is not None
    with pytest.raises(Forbidden):
        await app.approvals.approve(who(app, "agent:assistant"), receipt.proposal_id,
                                    digest=None, channel="cli")
    voted = await app.approvals.approve(who(app, "user:sam"), receipt.proposal_id,
                                        digest=None, channel="cli")
    assert voted.proposal.status == "executed"


@pytest.mark.parametrize("text", [
    "my OpenAI API key is sk-proj-4f9a8b7c6d5e4f3a2b1c",
    "the wifi password: hunter22",
    "Password is correct-horse-battery",
    "GitHub token ghp_abcdefghijklmnopqrstuvwxyz0123456789",
    "AWS AKIAABCDEFGHIJKLMNOP for the backups",
    "slack xoxb-1234567890-abcdefghij",
    "-----BEGIN OPENSSH PRIVATE KEY----- b3BlbnNzaC1rZXk",
    "api_key=abc123",
])
async def test_what_looks_like_a_secret_is_refused(app: App, text: str) -> None:
    receipt = await propose(app, "memory.save", text=text)
    assert receipt.status == "rejected"
    assert receipt.decision is not None
    assert receipt.decision.rule_id == "memory.deny-secrets"
    assert "secret" in receipt.reason


async def test_a_secret_is_refused_even_as_a_fact_about_a_person(app: App) -> None:
    receipt = await propose(app, "memory.save", text="Dana's password is tulips1999",
                            kind="person_fact")
    assert receipt.status == "rejected"  # deny beats ask


@pytest.mark.parametrize("text", [
    "Sam's train leaves at 8", "The token machine at the station is broken",
    "Passwords are kept in the password manager",
])
async def test_ordinary_words_near_secrets_are_notes(app: App, text: str) -> None:
    assert (await propose(app, "memory.save", text=text)).status == "executed"


async def test_changing_or_forgetting_a_person_fact_asks_a_note_does_not(app: App) -> None:
    asked = await propose(app, "memory.save", text="Dana is allergic to peanuts",
                          kind="person_fact")
    assert asked.proposal_id is not None
    assert asked.aggregate_id is not None
    await app.approvals.approve(who(app, "user:sam"), asked.proposal_id, digest=None,
                                channel="cli")
    fact = asked.aggregate_id
    update = await propose(app, "memory.update", memory_id=fact, text="Dana is allergic to "
                           "peanuts and shellfish", expected_version=1)
    assert update.status == "pending_approval"
    forget = await propose(app, "memory.forget", memory_id=fact)
    assert forget.status == "pending_approval"

    note = await propose(app, "memory.save", text="Water the tomatoes")
    assert note.aggregate_id is not None
    changed = await propose(app, "memory.update", memory_id=note.aggregate_id,
                            text="Water the tomatoes every second evening", expected_version=1)
    assert changed.status == "executed"
    secret = await propose(app, "memory.update", memory_id=note.aggregate_id,
                           text="the garage token: 4411-2233", expected_version=2)
    assert secret.status == "rejected"
    assert (await propose(app, "memory.forget", memory_id=note.aggregate_id)).status == \
        "executed"


async def test_the_owner_may_write_notes_too(app: App) -> None:
    receipt = await propose(app, "memory.save", "user:sam", text="Book the dentist in March")
    assert receipt.status == "executed"
