"""The gateway: existing MCP servers behind the gate.

Reads pass through; writes become proposals the executor approves and the
invoker calls upstream exactly once. Other surfaces import from here only.
"""

from signoff.server.gateway.adopt import (
    STARTER_PRINCIPALS,
    ClaudeServer,
    claude_servers,
    env_name,
    gateway_file,
    starter_policy,
    upstream_name,
)
from signoff.server.gateway.bounds import may_hold_secret, redact_text, redact_texts
from signoff.server.gateway.calls import EVENT_VERSIONS as TOOL_CALL_EVENTS
from signoff.server.gateway.calls import TOOL_CALL
from signoff.server.gateway.catalogue import (
    CatalogueError,
    Drift,
    Lock,
    PinnedTool,
    drift,
    load_lock,
    pin,
    write_lock,
)
from signoff.server.gateway.config import load_gateway, parse_gateway
from signoff.server.gateway.environment import missing_env
from signoff.server.gateway.invoker import INVOKER, Answer, Invoker
from signoff.server.gateway.invoker import TOPICS as INVOKER_TOPICS
from signoff.server.gateway.model import GatewayConfig, Upstream, env_reference
from signoff.server.gateway.resolution import RESOLUTIONS, Resolution, Resolutions
from signoff.server.gateway.review import CallView, call_view, preview
from signoff.server.gateway.runtime import GatewayRuntime, result_document, running
from signoff.server.gateway.settle import Settler
from signoff.server.gateway.setup import GatewaySetup, load_setup
from signoff.server.gateway.upstream import Upstreams, UpstreamUnavailable

__all__ = [
    "INVOKER",
    "INVOKER_TOPICS",
    "RESOLUTIONS",
    "STARTER_PRINCIPALS",
    "TOOL_CALL",
    "TOOL_CALL_EVENTS",
    "Answer",
    "CallView",
    "CatalogueError",
    "ClaudeServer",
    "Drift",
    "GatewayConfig",
    "GatewayRuntime",
    "GatewaySetup",
    "Invoker",
    "Lock",
    "PinnedTool",
    "Resolution",
    "Resolutions",
    "Settler",
    "Upstream",
    "UpstreamUnavailable",
    "Upstreams",
    "call_view",
    "claude_servers",
    "drift",
    "env_name",
    "env_reference",
    "gateway_file",
    "load_gateway",
    "load_lock",
    "load_setup",
    "may_hold_secret",
    "missing_env",
    "parse_gateway",
    "pin",
    "preview",
    "redact_text",
    "redact_texts",
    "result_document",
    "running",
    "starter_policy",
    "upstream_name",
    "write_lock",
]
