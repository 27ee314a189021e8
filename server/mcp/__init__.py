"""The MCP surface: the server agents talk to, its transports and the
identities they carry. Other surfaces (cli, ops) import from here only."""

from signoff.server.mcp.auth import AuthConfigError, HttpAuth, JwtSettings, http_auth
from signoff.server.mcp.demo_credentials import (
    DemoPrincipalsError,
    check_demo_principals,
    demo_warning,
    is_demo_database,
)
from signoff.server.mcp.identity import (
    BearerIdentity,
    FixedIdentity,
    IdentityError,
    resolve_principal,
)
from signoff.server.mcp.resources import DEFAULT_INTERVAL
from signoff.server.mcp.server import build_server, request_state_security
from signoff.server.mcp.serving import expiry_sweep, serve, server_url

__all__ = [
    "DEFAULT_INTERVAL",
    "AuthConfigError",
    "BearerIdentity",
    "DemoPrincipalsError",
    "FixedIdentity",
    "HttpAuth",
    "IdentityError",
    "JwtSettings",
    "build_server",
    "check_demo_principals",
    "demo_warning",
    "expiry_sweep",
    "http_auth",
    "is_demo_database",
    "request_state_security",
    "resolve_principal",
    "serve",
    "server_url",
]
