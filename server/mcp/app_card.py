"""The App card: a proposal as a live status card, for hosts that render MCP
Apps (the `io.modelcontextprotocol/ui` extension, ext-apps specification
2026-01-26).

- `ui://signoff/proposal` is one HTML document (`text/html;profile=mcp-app`),
  listed in resources/list and read like any resource. Its CSS and JS ship in
  this package (`app/`) and are inlined when it is built: a host renders the
  text in a sandboxed iframe with no origin to load anything from, and no CDN
  is ever asked.
- The document carries its own Content-Security-Policy, allowing exactly its
  one style and one script block by hash and nothing else (no network, no
  images, no frames); its `_meta.ui.csp` declares no domains, so a host adds
  the specification's restrictive default on top.
- `get_proposal`, the command tools and the gateway's propose tools are bound
  to it by `_meta.ui.resourceUri` (`bind`); hosts that render Apps show their
  receipts in the card, others ignore the binding and read the receipt.
- Their receipts carry, for a client that declared the extension, the votes
  and what is still needed under `_meta["signoff/card"]`: the receipt has
  neither, and a result's `_meta` stays out of the model's context.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
from collections.abc import Iterable
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING, Any

from mcp.server.apps import APP_MIME_TYPE, EXTENSION_ID, Apps, ResourceCsp, client_supports_apps
from mcp.server.context import ServerRequestContext
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.resources import Resource
from mcp_types import (
    CallToolResult,
    ListResourcesResult,
    PaginatedRequestParams,
    ReadResourceRequestParams,
    ReadResourceResult,
    TextResourceContents,
)
from mcp_types import Resource as MCPResource

from signoff.policies import PrincipalFacts
from signoff.server.app import App
from signoff.server.mcp.schemas import GET_PROPOSAL
from signoff.server.mcp.tools import Answer, Invoke, ToolSpec
from signoff.server.services.proposals import CallContext
from signoff.server.services.quorum import ballots_of, still_needed
from signoff.store.ports import UnitOfWork

if TYPE_CHECKING:
    from signoff.server.mcp.resources import ProposalResource

__all__ = ["APP_MIME_TYPE", "CARD_META", "CARD_URI", "EXTENSION_ID", "AppCard", "bind",
           "card_html"]

CARD_URI = "ui://signoff/proposal"
CARD_META = "signoff/card"
TOOL_UI = {"resourceUri": CARD_URI}
# Everything the document may use: its own two blocks, by hash. A <meta> CSP
# cannot say frame-ancestors; the host's sandbox decides who embeds it.
CSP = ("default-src 'none'; script-src {script}; style-src {style}; img-src 'none'; "
       "font-src 'none'; media-src 'none'; connect-src 'none'; frame-src 'none'; "
       "worker-src 'none'; object-src 'none'; base-uri 'none'; form-action 'none'")


def _asset(name: str) -> str:
    return (resources.files("signoff.server.mcp") / "app" / name).read_text(encoding="utf-8")


def _hash(source: str) -> str:
    digest = hashlib.sha256(source.encode("utf-8")).digest()
    return f"'sha256-{base64.b64encode(digest).decode('ascii')}'"


@cache
def card_html() -> str:
    """The card's document: the template with its CSS, JS and CSP filled in."""
    css, js = _asset("card.css"), _asset("card.js")
    for source, closing in ((css, "</style"), (js, "</script")):
        if closing in source.lower():  # it would end the inlined block early
            raise ValueError(f"an App card asset contains {closing}")
    csp = CSP.format(script=_hash(js), style=_hash(css))
    return (_asset("card.html").replace("{{csp}}", csp)
            .replace("{{css}}", css).replace("{{js}}", js))


@cache
def _resource() -> Resource:
    """The card as the SDK's Apps extension builds a `ui://` resource."""
    apps = Apps()
    apps.add_html_resource(
        CARD_URI, card_html(), name="proposal-card", title="Proposal status card",
        description="A proposal's status, decision, votes, what is still needed and its "
        "result; refreshes through the host while the proposal waits. No vote controls.",
        csp=ResourceCsp(connect_domains=[], resource_domains=[], frame_domains=[],
                        base_uri_domains=[]),
        prefers_border=False)
    [binding] = apps.resources()
    return binding.resource


def _bound(spec: ToolSpec) -> bool:
    return spec.kind == "command" or spec.name == GET_PROPOSAL


def bind(specs: Iterable[ToolSpec]) -> list[ToolSpec]:
    """The specs, each tool that answers a receipt bound to the card by
    `_meta.ui` and answering with the card's data (`_with_card`)."""
    return [dataclasses.replace(spec, meta={**(spec.meta or {}), "ui": TOOL_UI},
                                invoke=_with_card(spec.invoke))
            if _bound(spec) else spec for spec in specs]


class AppCard:
    """resources/list and resources/read: the card, in front of the proposal resource."""

    identifier = EXTENSION_ID  # what the server advertises under capabilities.extensions

    def __init__(self, proposals: ProposalResource) -> None:
        self._proposals = proposals

    async def list_resources(self, ctx: ServerRequestContext[Any, Any],
                             params: PaginatedRequestParams | None) -> ListResourcesResult:
        listed = await self._proposals.list_resources(ctx, params)
        card = _resource()
        return listed.model_copy(update={"resources": [MCPResource(
            uri=card.uri, name=card.name or card.uri, title=card.title,
            description=card.description, mime_type=card.mime_type, _meta=card.meta,
        ), *listed.resources]})

    async def read(self, ctx: ServerRequestContext[Any, Any],
                   params: ReadResourceRequestParams) -> ReadResourceResult:
        if params.uri != CARD_URI:
            return await self._proposals.read(ctx, params)
        card = _resource()
        return ReadResourceResult(contents=[TextResourceContents(
            uri=card.uri, mime_type=card.mime_type, text=str(await card.read()),
            _meta=card.meta)])


async def card_data(app: App, principal: PrincipalFacts, proposal_id: str
                    ) -> dict[str, Any] | None:
    """The votes cast on a proposal of the caller's tenant, and what is still needed."""
    def read(uow: UnitOfWork) -> dict[str, Any] | None:
        proposal = uow.proposals.get(proposal_id, principal.tenant)
        if proposal is None:
            return None
        votes = uow.proposals.votes(proposal_id)
        d = proposal.decision
        if proposal.status != "pending_approval":
            needed = f"nothing: {proposal.status.replace('_', ' ')}"
        else:
            needed = still_needed(ballots_of(votes), roles=d.approver_roles,
                                  count=d.approvers_required, distinct=d.distinct)
            if d.confirm == "requester":
                needed += " (or the requester's own confirmation)"
        return {"still_needed": needed, "votes": [
            {"voter_id": v.voter_id, "roles": list(v.voter_roles), "verdict": v.verdict,
             "comment": v.comment, "channel": v.channel, "cast_at": v.cast_at.isoformat()}
            for v in votes]}

    return await app.store.read(read)


def _renders_apps(ctx: Context[Any, Any]) -> bool:
    try:
        return client_supports_apps(ctx)
    except ValueError:  # called outside a request: no client to ask
        return False


def _with_card(invoke: Invoke) -> Invoke:
    """`invoke`, whose receipt carries the card's data for a client that renders Apps."""
    async def invoke_with_card(app: App, principal: PrincipalFacts, arguments: dict[str, Any],
                               call: CallContext, ctx: Context[Any, Any]) -> Answer:
        answer = await invoke(app, principal, arguments, call, ctx)
        result = answer.result
        if (answer.proposal_id is None or not isinstance(result, CallToolResult)
                or not _renders_apps(ctx)):
            return answer
        data = await card_data(app, principal, answer.proposal_id)
        if data is None:
            return answer
        meta = {**(result.meta or {}), CARD_META: data}
        return dataclasses.replace(answer, result=result.model_copy(update={"meta": meta}))

    return invoke_with_card
