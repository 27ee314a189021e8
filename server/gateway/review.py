"""What a reviewer is shown of an upstream call, in this order: the arguments
and what approving will call; then the upstream's pinned description and
annotations as escaped, length-capped text (an upstream's description is
untrusted input that may try to talk to the reviewer); then, where the
gateway file names one, the preview read re-run now.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel

from signoff.server.gateway.calls import TOOL_CALL
from signoff.server.gateway.runtime import GatewayRuntime
from signoff.server.gateway.setup import GatewaySetup
from signoff.server.gateway.upstream import UpstreamUnavailable
from signoff.store.records import ProposalRecord

DESCRIPTION_CAP = 2000
PREVIEW_CAP = 8000


class CallView(BaseModel):
    upstream: str
    tool: str
    will_call: str
    arguments: dict[str, Any]
    payload_digest: str
    tool_digest: str | None
    # Untrusted text: shown escaped and capped, never as instructions.
    description: str
    description_truncated: bool
    annotations: dict[str, Any] | None
    preview_tool: str | None


def capped(text: str, limit: int) -> tuple[str, bool]:
    return (text, False) if len(text) <= limit else (text[:limit] + "…", True)


def call_view(setup: GatewaySetup, proposal: ProposalRecord) -> CallView | None:
    """None for a proposal that is not a call to one of this gateway's tools."""
    if proposal.aggregate_type != TOOL_CALL.name:
        return None
    _, upstream, tool = proposal.command_type.split(".", 2)
    pinned = setup.pinned(upstream, tool)
    found = setup.config.upstream(upstream)
    description, cut = capped(pinned.description if pinned else "(not pinned any more)",
                              DESCRIPTION_CAP)
    return CallView(
        upstream=upstream, tool=tool,
        will_call=f"approving will call {upstream}.{tool} once",
        arguments=dict(proposal.payload), payload_digest=proposal.payload_digest,
        tool_digest=pinned.digest if pinned else None, description=description,
        description_truncated=cut,
        annotations=dict(pinned.annotations) if pinned and pinned.annotations else None,
        preview_tool=found.tools.preview.get(tool) if found else None,
    )


async def preview(runtime: GatewayRuntime, view: CallView, tenant: str) -> str:
    """The preview read tool's answer now, as capped text (its own arguments
    are the call's, limited to what the read tool's schema names)."""
    if view.preview_tool is None:
        return ""
    pinned = runtime.setup.pinned(view.upstream, view.preview_tool)
    try:
        digest = await runtime.current_digest(view.upstream, tenant, view.preview_tool)
    except UpstreamUnavailable as exc:
        return f"(preview unavailable: {exc.message})"
    if pinned is None or digest != pinned.digest:  # never run a tool nobody pinned as it is
        return f"(preview unavailable: {view.preview_tool} is not pinned as it is now)"
    names = set(pinned.input_schema.get("properties") or {})
    arguments = {k: v for k, v in view.arguments.items() if k in names}
    answer = await runtime.read(view.upstream, tenant, view.preview_tool, arguments)
    if answer.kind != "answered" or answer.result is None:
        return f"(preview unavailable: {answer.reason})"
    texts = [str(c.get("text", "")) for c in answer.result.get("content", [])
             if isinstance(c, dict) and c.get("type") == "text"]
    text = "\n".join(texts) or json.dumps(answer.result.get("structuredContent"), indent=2)
    return capped(text, PREVIEW_CAP)[0]
