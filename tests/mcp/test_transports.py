"""Which principals may be the caller over which transport (issue 10, item 6):
declared per principal (`transports`), by default agents and users over
stdio and HTTP, services over neither; enforced for `serve --principal`,
tokens-file entries, principals-file tokens and JWTs alike."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

import jwt
import pytest

from signoff.policies import PrincipalsLoadError, parse_principals
from signoff.server.mcp.auth import (
    AuthConfigError,
    JwtSettings,
    SignoffTokenVerifier,
    TokenEntry,
    http_auth,
    load_tokens,
)
from signoff.server.mcp.identity import IdentityError, resolve_principal

URL = "http://127.0.0.1:8765/mcp"
SECRET = "s" * 32


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


PRINCIPALS = f"""
[[principal]]
id = "agent:bot"
kind = "agent"
tenants = ["acme"]
token_sha256 = "{digest("bot-token")}"

[[principal]]
id = "service:notifier"
kind = "service"
tenants = ["acme"]
token_sha256 = "{digest("notifier-token")}"

[[principal]]
id = "service:webhook"
kind = "service"
tenants = ["acme"]
transports = ["http"]

[[principal]]
id = "user:local"
kind = "user"
tenants = ["acme"]
transports = ["stdio"]
"""
principals = parse_principals(PRINCIPALS)


def signed(subject: str) -> str:
    claims = {"iss": "iss", "aud": URL, "exp": int(time.time()) + 60, "sub": subject,
              "tenant": "acme"}
    return jwt.encode(claims, SECRET, algorithm="HS256")


def test_transports_default_by_kind_and_are_declared() -> None:
    assert principals.get("agent:bot").transports == ("stdio", "http")  # type: ignore[union-attr]
    assert principals.get("service:notifier").transports == ()  # type: ignore[union-attr]
    assert principals.get("service:webhook").transports == ("http",)  # type: ignore[union-attr]
    assert principals.get("user:local").transports == ("stdio",)  # type: ignore[union-attr]


def test_an_unknown_transport_is_a_load_error() -> None:
    text = '[[principal]]\nid = "a"\nkind = "agent"\ntenants = ["t"]\ntransports = ["smtp"]\n'
    with pytest.raises(PrincipalsLoadError, match="transports"):
        parse_principals(text)


def test_stdio_names_only_a_principal_that_may_use_stdio() -> None:
    assert resolve_principal(principals, "user:local", "acme").id == "user:local"
    for pid in ("service:notifier", "service:webhook"):
        with pytest.raises(IdentityError, match="may not connect over stdio"):
            resolve_principal(principals, pid, "acme")


@pytest.mark.anyio
async def test_a_jwt_authenticates_only_a_principal_that_may_use_http() -> None:
    settings = JwtSettings.load(issuer="iss", audience=URL, secret=SECRET)
    verifier = SignoffTokenVerifier(principals, [], settings)
    assert await verifier.verify_token(signed("agent:bot")) is not None
    assert await verifier.verify_token(signed("service:webhook")) is not None
    assert await verifier.verify_token(signed("service:notifier")) is None
    assert await verifier.verify_token(signed("user:local")) is None


@pytest.mark.anyio
async def test_an_opaque_token_of_a_principal_without_http_is_refused() -> None:
    # Entries built by hand (as a principals file reloaded since loading would).
    entries = [TokenEntry(digest("notifier-token"), "service:notifier", "acme"),
               TokenEntry(digest("local-token"), "user:local", "acme")]
    verifier = SignoffTokenVerifier(principals, entries, None)
    assert await verifier.verify_token("notifier-token") is None
    assert await verifier.verify_token("local-token") is None


def test_a_principals_file_token_of_a_service_is_not_loaded() -> None:
    auth = http_auth(principals, server_url=URL)
    assert auth.token_count == 1  # agent:bot's only
    assert any("service:notifier" in note and "transports" in note for note in auth.notes)


def test_a_tokens_file_entry_for_a_service_is_a_load_error(tmp_path: Path) -> None:
    path = tmp_path / "tokens.toml"
    path.write_text(f'[[token]]\nsha256 = "{digest("x")}"\nprincipal = "service:notifier"\n'
                    'tenant = "acme"\n')
    with pytest.raises(AuthConfigError, match="may not authenticate over HTTP"):
        load_tokens(path, principals)
