"""What `review show` adds for a call to an upstream tool: the preview read
re-run now (the upstream is started for it, with the secrets the gateway
file names; without them the preview says why it is missing)."""

from __future__ import annotations

import json
import os
from typing import Any

from rich.markup import escape

from signoff.server.app import App
from signoff.server.cli.common import out
from signoff.server.gateway import CallView, missing_env, preview, running
from signoff.server.services.review_views import ProposalView


async def with_preview(app: App, view: ProposalView | None) -> ProposalView | None:
    if view is None or view.call is None or not view.call.get("preview_tool"):
        return view
    if app.gateway is None:
        return view
    missing = missing_env(app.gateway.config, os.environ)
    if missing:
        text = "(preview unavailable: " + "; ".join(missing) + ")"
    else:
        async with running(app.gateway) as runtime:
            text = await preview(runtime, CallView.model_validate(view.call), view.tenant_id)
    return view.model_copy(update={"call": {**view.call, "preview": text}})


def print_call(call: dict[str, Any]) -> None:
    """First what approving will do, then the upstream's own words as
    untrusted text (escaped: they may try to talk to the reviewer)."""
    out.print(f"[bold]{escape(call['will_call'])}[/bold]")
    for line in json.dumps(call["arguments"], indent=2, ensure_ascii=False).splitlines():
        out.print(f"  {escape(line)}", overflow="fold")
    out.print(f"tool digest {escape(str(call.get('tool_digest') or '-'))}")
    cut = " (truncated)" if call.get("description_truncated") else ""
    out.print(f"the upstream's description (untrusted text){cut}:", style="dim")
    for line in str(call.get("description", "")).splitlines() or ["-"]:
        out.print(f"  | {escape(line)}", style="dim", overflow="fold")
    if call.get("annotations"):
        out.print(f"annotations (the upstream's claims): "
                  f"{escape(json.dumps(call['annotations'], sort_keys=True))}", style="dim")
    if "preview" in call:
        out.print(f"preview ({escape(str(call.get('preview_tool')))} now):")
        for line in str(call["preview"]).splitlines()[:60]:
            out.print(f"  | {escape(line)}", overflow="fold")
