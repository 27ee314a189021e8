"""The reference `@modelcontextprotocol/server-filesystem` (npm) behind
`signoff serve --gateway`: the agent reads files freely, its `write_file`
waits for a reviewer on the CLI; approved, the file is written once, with its
content; rejected, nothing is written."""

from __future__ import annotations

from pathlib import Path

import pytest

from .npm_world import NpmWorld, call_events, filesystem, make_npm_world, settled, structured

pytestmark = pytest.mark.anyio
CALLED_ONCE = ["tool_call.approved", "tool_call.started", "tool_call.completed"]


@pytest.fixture
async def world(tmp_path: Path) -> NpmWorld:
    return await make_npm_world(tmp_path, filesystem)


def write(world: NpmWorld, name: str, content: str) -> dict[str, object]:
    return {"path": str(world.scratch / name), "content": content, "confidence": 0.9,
            "rationale": "the user asked for this file"}


async def test_reads_pass_and_an_approved_write_happens_once(world: NpmWorld) -> None:
    (world.scratch / "notes.txt").write_text("first line\nsecond line\n")
    async with world.client() as session:
        tools = {t.name for t in (await session.list_tools()).tools}
        assert {"files_read_text_file", "files_write_file"} <= tools
        assert "files_move_file" not in tools  # in neither list: not exposed

        read = await session.call_tool("files_read_text_file",
                                       {"path": str(world.scratch / "notes.txt")})
        assert not read.is_error
        assert structured(read) == {"content": "first line\nsecond line\n"}

        waiting = structured(await session.call_tool(
            "files_write_file", write(world, "plan.md", "# Plan\n\nShip it.\n")))
        assert waiting["status"] == "pending_approval"
        assert not (world.scratch / "plan.md").exists()

        world.review("approve", waiting["proposal_id"])
        receipt = await settled(session, waiting["proposal_id"])
        assert receipt["status"] == "executed"
        assert "Successfully wrote" in receipt["result"]["content"][0]["text"]
        assert (world.scratch / "plan.md").read_text() == "# Plan\n\nShip it.\n"
        shown = await session.call_tool("files_read_text_file",
                                        {"path": str(world.scratch / "plan.md")})
        assert structured(shown) == {"content": "# Plan\n\nShip it.\n"}
    assert await call_events(world, waiting["proposal_id"]) == CALLED_ONCE


async def test_a_rejected_write_writes_nothing(world: NpmWorld) -> None:
    async with world.client() as session:
        rejected = structured(await session.call_tool(
            "files_write_file", write(world, "never.txt", "no\n")))
        assert rejected["status"] == "pending_approval"
        world.review("reject", rejected["proposal_id"], "--reason", "not this file")
        # A later approved write, to the same upstream, has been made: the
        # relay ran past the rejection.
        later = structured(await session.call_tool(
            "files_write_file", write(world, "later.txt", "yes\n")))
        world.review("approve", later["proposal_id"])
        assert (await settled(session, later["proposal_id"]))["status"] == "executed"
        receipt = structured(await session.call_tool(
            "get_proposal", {"proposal_id": rejected["proposal_id"]}))
        assert receipt["status"] == "rejected"
    assert (world.scratch / "later.txt").read_text() == "yes\n"
    assert not (world.scratch / "never.txt").exists()
    assert await call_events(world, rejected["proposal_id"]) == []
