"""Who the caller is: the stdio launch check, the tokens file, the verifier."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

import jwt
import pytest

from signoff.policies import Principals, load_principals
from signoff.server.app import example_file
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


@pytest.fixture
def principals() -> Principals:
    return load_principals(example_file("principals.toml"))


def test_resolve_principal(principals: Principals) -> None:
    assert resolve_principal(principals, "user:alice", None).tenant == "acme"
    facts = resolve_principal(principals, "agent:triage", "globex")
    assert (facts.id, facts.kind, facts.tenant) == ("agent:triage", "agent", "globex")
    for pid, tenant, message in [(None, None, "no principal"),
                                 ("nobody", "acme", "unknown principal 'nobody'"),
                                 ("agent:triage", None, "several tenants"),
                                 ("user:alice", "globex", "not a member of tenant 'globex'")]:
        with pytest.raises(IdentityError, match=message):
            resolve_principal(principals, pid, tenant)


def tokens_file(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "tokens.toml"
    path.write_text(body)
    return path


def entry(sha: str = "a" * 64, principal: str = "agent:triage", tenant: str = "acme") -> str:
    return f'[[token]]\nsha256 = "{sha}"\nprincipal = "{principal}"\ntenant = "{tenant}"\n'


def test_tokens_file(tmp_path: Path, principals: Principals) -> None:
    loaded = load_tokens(tokens_file(tmp_path, entry() + entry("b" * 64, tenant="globex")),
                         principals)
    assert [(e.principal, e.tenant) for e in loaded] == [("agent:triage", "acme"),
                                                        ("agent:triage", "globex")]
    for body, message in [
        ("[[token]\n", "not valid TOML"),
        ("tokens = 1\n", "unknown top-level"),
        (entry(sha="ABC"), "64 lowercase hex"),
        (entry(principal="nobody"), "unknown principal"),
        (entry(principal="user:alice", tenant="globex"), "not a member"),
        (entry() + entry(), "appears twice"),
        (entry() + 'extra = "x"\n', "exactly the keys"),
    ]:
        with pytest.raises(AuthConfigError, match=message):
            load_tokens(tokens_file(tmp_path, body), principals)


def test_jwt_settings_need_one_real_key(tmp_path: Path) -> None:
    with pytest.raises(AuthConfigError, match="exactly one key"):
        JwtSettings.load(issuer="i", audience=URL)
    with pytest.raises(AuthConfigError, match="at least 32 bytes"):
        JwtSettings.load(issuer="i", audience=URL, secret="short")
    assert JwtSettings.load(issuer="i", audience=URL, secret=SECRET).algorithm == "HS256"


@pytest.mark.anyio
async def test_verifier(principals: Principals) -> None:
    settings = JwtSettings.load(issuer="iss", audience=URL, secret=SECRET)
    opaque = TokenEntry(hashlib.sha256(b"tok").hexdigest(), "agent:triage", "globex")
    verifier = SignoffTokenVerifier(principals, [opaque], settings)
    by_token = await verifier.verify_token("tok")
    assert by_token is not None
    assert (by_token.subject, by_token.claims) == ("agent:triage", {"tenant": "globex"})
    assert "tok" not in by_token.token  # only a digest prefix is kept
    assert await verifier.verify_token("tok2") is None

    def signed(**claims: object) -> str:
        base = {"iss": "iss", "aud": URL, "exp": int(time.time()) + 60, "sub": "user:bob"}
        return jwt.encode({**base, **claims}, SECRET, algorithm="HS256")

    bob = await verifier.verify_token(signed())  # one tenant: no claim needed
    assert bob is not None
    assert bob.claims == {"tenant": "acme"}
    assert await verifier.verify_token(signed(sub="agent:triage", tenant="globex")) is not None
    for bad in [signed(aud="http://other/mcp"), signed(exp=int(time.time()) - 120),
                signed(iss="other"), signed(sub="agent:triage"), signed(tenant="globex"),
                signed(sub="ghost"), jwt.encode({"sub": "user:bob"}, SECRET, algorithm="HS256"),
                signed()[:-4] + "AAAA"]:
        assert await verifier.verify_token(bad) is None, bad


@pytest.mark.anyio
async def test_rs256(principals: Principals, tmp_path: Path) -> None:
    pytest.importorskip("cryptography")  # pyjwt[crypto]
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = tmp_path / "public.pem"
    pem.write_bytes(key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    settings = JwtSettings.load(issuer="iss", audience=URL, public_key_file=pem)
    verifier = SignoffTokenVerifier(principals, [], settings)
    claims = {"iss": "iss", "aud": URL, "exp": int(time.time()) + 60, "sub": "user:carol"}
    good = await verifier.verify_token(jwt.encode(claims, key, algorithm="RS256"))
    assert good is not None
    assert good.subject == "user:carol"
    # Only the configured algorithm is accepted: an HS256 token is refused.
    assert await verifier.verify_token(jwt.encode(claims, "p" * 40, algorithm="HS256")) is None


def test_principal_file_tokens_of_multi_tenant_principals_are_ignored(
        principals: Principals) -> None:
    auth = http_auth(principals, server_url=URL)
    assert any("agent:triage" in note and "several tenants" in note for note in auth.notes)
    assert auth.token_count == len([p for p in principals
                                    if p.token_sha256 and len(p.tenants) == 1])
    assert auth.settings.resource_server_url is None
