"""`signoff review resolve` settles an assistant call whose outcome is
unknown, as it settles a gateway call: given the proposal that asked for the
call, it proposes the domain's own `api.resolve` as the person, so the
policy judges it (people only) and the call's state decides (only an
unknown outcome is settled); a retry is made once by the relay."""

from __future__ import annotations

import sys

import anyio
import pytest

from signoff.server.app import App
from signoff.server.errors import Forbidden, Refused
from tests.assistant.conftest import allow, open_assistant, propose, relay_until_idle, who
from tests.assistant.endpoint import Endpoint
from tests.assistant.test_calls import folder, kinds, view
from tests.databases import both_adapters

pytestmark = [pytest.mark.anyio, both_adapters]


async def unknown_call(app: App, endpoint: Endpoint) -> tuple[str, str]:
    """(proposal id, call id) of a call a relay began and then died in."""
    allow(folder(app), endpoint.url(""), private=True)
    asked = await propose(app, "api.call", url=endpoint.url("/status"), method="GET")
    assert asked.status == "executed", asked
    assert asked.proposal_id is not None
    assert asked.aggregate_id is not None
    begun = await propose(app, "api.begin", "service:api-caller", call_id=asked.aggregate_id)
    assert begun.status == "executed", begun
    await relay_until_idle(app)
    assert (await view(app, asked.aggregate_id))["status"] == "outcome_unknown"
    return asked.proposal_id, asked.aggregate_id


async def test_review_resolve_retries_an_unknown_assistant_call_once(
        app: App, endpoint: Endpoint) -> None:
    proposal_id, call_id = await unknown_call(app, endpoint)
    settled = await app.resolutions.resolve(who(app, "user:sam"), proposal_id, "retry",
                                            "the endpoint's log shows nothing arrived")
    assert settled.command_type == "api.resolve"
    assert settled.status == "executed"
    assert settled.actor.id == "user:sam"
    await relay_until_idle(app)
    assert (await view(app, call_id))["status"] == "completed"
    assert endpoint.hits["/status"] == 1
    assert await kinds(app, call_id) == ["requested", "started", "outcome_unknown",
                                         "retry_approved", "started", "completed"]


async def test_review_resolve_records_what_the_person_found(
        app: App, endpoint: Endpoint) -> None:
    proposal_id, call_id = await unknown_call(app, endpoint)
    await app.resolutions.resolve(who(app, "user:sam"), proposal_id, "succeeded",
                                  "the endpoint's log shows it answered")
    await relay_until_idle(app)
    assert endpoint.hits["/status"] == 0
    assert (await kinds(app, call_id))[-1] == "resolved"


async def test_review_resolve_is_refused_to_an_agent_and_for_a_call_that_is_known(
        app: App, endpoint: Endpoint) -> None:
    proposal_id, call_id = await unknown_call(app, endpoint)
    with pytest.raises(Forbidden):
        await app.resolutions.resolve(who(app, "agent:assistant"), proposal_id, "retry",
                                      "let me try")
    await app.resolutions.resolve(who(app, "user:sam"), proposal_id, "failed", "it did not")
    with pytest.raises(Refused, match="only a call whose outcome is unknown"):
        await app.resolutions.resolve(who(app, "user:sam"), proposal_id, "retry", "again")
    assert (await kinds(app, call_id))[-1] == "resolved"


async def test_the_cli_settles_it(app: App, endpoint: Endpoint) -> None:
    proposal_id, call_id = await unknown_call(app, endpoint)
    db = app.settings.db
    await app.close()
    done = await anyio.run_process(
        [sys.executable, "-m", "signoff.server.cli", "review", "resolve", proposal_id,
         "--as", "user:sam", "--outcome", "failed", "--reason", "nothing happened there",
         "--domain", "assistant", "--db", str(db)], cwd=folder(app), check=False)
    assert done.returncode == 0, done.stderr.decode()
    assert f"{proposal_id} settled as failed by user:sam (proposal " in done.stdout.decode()
    reopened = await open_assistant(db, app.clock)  # type: ignore[arg-type]
    try:
        shown = await view(reopened, call_id)
        assert shown["status"] == "failed"
    finally:
        await reopened.close()

