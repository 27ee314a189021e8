"""Agent-written text that looks like the preview's stand-in for an
uncommitted event id is shown as written, and never breaks the page."""

from __future__ import annotations

import pytest

from signoff.server.app import App
from tests.conftest import principal
from tests.review.helpers import CASE

pytestmark = pytest.mark.anyio
LOOKALIKE = "signoff:uncommitted-event:x"


async def test_a_lookalike_marker_in_a_notice_is_shown_as_written(app: App) -> None:
    agent = principal(app, "agent:triage")
    draft = await app.proposals.submit(agent, "notice.create_draft", {
        "case_id": CASE, "body": LOOKALIKE, "confidence": 0.9})
    assert draft.status == "executed"
    asked = await app.proposals.submit(agent, "notice.approve", {
        "draft_id": draft.aggregate_id, "expected_version": 1, "confidence": 0.9})
    assert asked.status == "pending_approval"
    assert asked.proposal_id is not None
    view = await app.reviews.view(asked.proposal_id, "acme")
    assert view is not None
    assert view.change is not None
    assert view.change.outcome == "events"
    assert view.change.after["body"] == LOOKALIKE
