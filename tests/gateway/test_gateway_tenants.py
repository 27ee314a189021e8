"""Tenant isolation over a real `signoff serve --gateway` on stdio: an
upstream configured `tenants = ["acme"]` is listed and callable for an acme
caller, and invisible and uncallable for a globex one (no call, no proposal)."""

from __future__ import annotations

from pathlib import Path

import pytest

from signoff.server.app import build_app

from .box_world import Box, make_box_world, serve_client, text_of

pytestmark = pytest.mark.anyio
ACME_ONLY = Box("acmebox", read=("echo",), propose=("sleep",), tenants=("acme",))
EVERYONE = Box("everyone", read=("echo",))


async def test_an_acme_upstream_is_invisible_and_uncallable_for_globex(tmp_path: Path) -> None:
    world = await make_box_world(tmp_path, ACME_ONLY, EVERYONE)

    async with serve_client(world, "agent:acme-bot", "acme") as acme:
        listed = {t.name for t in (await acme.list_tools()).tools}
        assert {"acmebox_echo", "acmebox_sleep", "everyone_echo"} <= listed
        assert text_of(await acme.call_tool("acmebox_echo", {"text": "hi acme"})) == "hi acme"

    async with serve_client(world, "agent:globex-bot", "globex") as globex:
        listed = {t.name for t in (await globex.list_tools()).tools}
        assert "everyone_echo" in listed  # the gateway serves globex ...
        assert not {n for n in listed if n.startswith("acmebox_")}  # ... but not acme's
        assert text_of(await globex.call_tool("everyone_echo", {"text": "hi"})) == "hi"
        read = await globex.call_tool("acmebox_echo", {"text": "let me in"})
        assert read.is_error
        assert "Unknown tool: acmebox_echo" in text_of(read)
        proposed = await globex.call_tool("acmebox_sleep", {
            "seconds": 0, "confidence": 0.9, "rationale": "let me in"})
        assert proposed.is_error
        assert "Unknown tool: acmebox_sleep" in text_of(proposed)

    async with await build_app(world.settings()) as app:
        recorded = await app.store.read(lambda uow: uow.proposals.find(limit=100))
    assert recorded == []  # the refused call left nothing behind
