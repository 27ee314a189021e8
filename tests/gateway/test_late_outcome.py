"""A call's answer that arrives after the call was settled elsewhere (this
relay's lease ran out; another relay recorded it unknown; a person may have
settled it) changes nothing recorded."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from signoff.server.gateway import Answer, Invoker
from signoff.server.gateway.calls import UNKNOWN
from tests.conftest import principal

from .git_world import TENANT, make_world, serving

pytestmark = pytest.mark.anyio


async def test_an_answer_after_another_relay_recorded_the_call_unknown_is_ignored(
    tmp_path: Path,
) -> None:
    world = await make_world(tmp_path)
    async with serving(world) as (app, runtime, _relay):
        added = await app.proposals.submit(principal(app, "agent:claude", TENANT),
                                           "tool.repo.git_add", {
            "repo_path": str(world.repo), "files": ["notes.txt"], "confidence": 0.9})
        [message] = await app.store.read(lambda uow: [
            m for m in uow.outbox.find(limit=100) if m.topic == "tool_call.approved"])

        async def slow_call(upstream: str, tenant: str, tool: str,
                            arguments: Mapping[str, Any]) -> Answer:
            # Meanwhile another relay found the call started and recorded it unknown.
            def unknown(uow: Any) -> None:
                proposal = app.settler.proposal_of(uow, message)
                assert proposal is not None
                loaded = app.settler.load(uow, TENANT, proposal.aggregate_id)
                app.settler.record(uow, proposal, loaded.version, UNKNOWN,
                                   {"reason": "lease ran out"}, status="outcome_unknown")
            await app.store.write(unknown)
            return Answer("answered", {"isError": False, "content": []})

        invoker = Invoker(store=app.store, settler=app.settler, call_upstream=slow_call,
                          current_digest=runtime.current_digest, clock=app.clock, timeout=60)
        await invoker.publish(message)
        receipt = await app.proposals.receipt(principal(app, "agent:claude", TENANT),
                                              str(added.proposal_id))
        assert receipt is not None
        assert receipt.status == "outcome_unknown"
        events = await app.store.read(lambda uow: uow.events.stream(
            TENANT, "tool_call", message.aggregate_id or ""))
        assert [e.event_type for e in events] == [
            "tool_call.approved", "tool_call.started", "tool_call.outcome_unknown"]
