"""The reference `@modelcontextprotocol/server-memory` (npm) behind
`signoff serve --gateway`, on a scratch memory file: `read_graph` and
`search_nodes` pass, `create_entities` waits for a reviewer on the CLI;
approved, the entity exists once."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from .npm_world import call_events, make_npm_world, memory, settled, structured

pytestmark = pytest.mark.anyio
NAME = "Ada Lovelace"
ADA: dict[str, Any] = {"name": NAME, "entityType": "person",
       "observations": ["wrote the first published program"]}


def named(graph: dict[str, Any], name: str) -> list[dict[str, Any]]:
    return [e for e in graph["entities"] if e["name"] == name]


async def test_reads_pass_and_an_approved_entity_is_created_once(tmp_path: Path) -> None:
    world = await make_npm_world(tmp_path, memory)
    stored = world.scratch / "memory.jsonl"
    async with world.client() as session:
        tools = {t.name for t in (await session.list_tools()).tools}
        assert {"memory_read_graph", "memory_search_nodes", "memory_create_entities"} <= tools
        assert "memory_delete_entities" not in tools  # in neither list: not exposed

        empty = await session.call_tool("memory_read_graph", {})
        assert not empty.is_error
        assert structured(empty)["entities"] == []

        waiting = structured(await session.call_tool("memory_create_entities", {
            "entities": [ADA], "confidence": 0.9, "rationale": "the user told us about Ada"}))
        assert waiting["status"] == "pending_approval"
        assert named(structured(await session.call_tool("memory_read_graph", {})),
                     NAME) == []

        world.review("approve", waiting["proposal_id"])
        receipt = await settled(session, waiting["proposal_id"])
        assert receipt["status"] == "executed"
        assert receipt["result"]["structuredContent"]["entities"] == [ADA]

        graph = structured(await session.call_tool("memory_read_graph", {}))
        assert named(graph, NAME) == [ADA]
        found = structured(await session.call_tool("memory_search_nodes", {"query": "Lovelace"}))
        assert named(found, NAME) == [ADA]
    lines = [json.loads(line) for line in stored.read_text().splitlines() if line.strip()]
    assert [line for line in lines if line.get("name") == NAME] == [
        {"type": "entity", **ADA}]
    assert await call_events(world, waiting["proposal_id"]) == [
        "tool_call.approved", "tool_call.started", "tool_call.completed"]
