"""What the consumer refuses itself, whatever the policy allowed: an origin
not on the allow-list, a name that resolves to a private address, a
redirect; and how much of an answer it reads. Each refusal says why."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from signoff.examples.assistant.endpoints import Endpoint as Allowed
from signoff.examples.assistant.endpoints import Endpoints
from signoff.examples.assistant.fetch import Answer, Target, check
from signoff.server.app import App
from tests.assistant.conftest import allow, relay_until_idle
from tests.assistant.endpoint import BIG, Endpoint
from tests.assistant.test_calls import call, kinds, view

pytestmark = pytest.mark.anyio


def resolver(*addresses: str):  # type: ignore[no-untyped-def]
    async def resolve(_host: str, _port: int) -> Sequence[str]:
        return addresses

    return resolve


@pytest.mark.parametrize(("address", "kind"), [
    ("10.0.0.5", "private"), ("192.168.1.20", "private"), ("127.0.0.1", "loopback"),
    ("169.254.169.254", "link-local"), ("::1", "loopback"), ("fe80::1", "link-local"),
    ("::ffff:10.1.2.3", "private"), ("100.64.0.1", "non-public"), ("0.0.0.0", "unspecified"),
])
async def test_a_name_resolving_to_a_non_public_address_is_refused(
        address: str, kind: str) -> None:
    endpoints = Endpoints((Allowed(url="https://api.example.org"),))
    answer = await check("https://api.example.org/v1", endpoints, resolver(address))
    assert isinstance(answer, Answer)
    assert answer.outcome == "refused"
    assert f"resolves to {address}, a {kind} address" in answer.reason


async def test_one_private_address_among_public_ones_is_enough_to_refuse() -> None:
    endpoints = Endpoints((Allowed(url="https://api.example.org"),))
    answer = await check("https://api.example.org/", endpoints,
                         resolver("93.184.215.14", "10.0.0.7"))
    assert isinstance(answer, Answer)
    assert "10.0.0.7, a private address" in answer.reason


async def test_private_true_allows_it_and_the_checked_address_is_the_target() -> None:
    endpoints = Endpoints((Allowed(url="http://intranet.test:8080", private=True),))
    target = await check("http://intranet.test:8080/x", endpoints, resolver("10.0.0.5"))
    assert isinstance(target, Target)
    assert str(target.address) == "10.0.0.5"


@pytest.mark.parametrize("url", [
    "https://api.example.org:8443/v1",   # another port
    "http://api.example.org/v1",         # another scheme (and port)
    "https://evil.example.org/v1",       # another host
    "https://api.example.org.evil.test/",
])
async def test_only_the_exact_origin_is_allowed(url: str) -> None:
    endpoints = Endpoints((Allowed(url="https://api.example.org"),), source="endpoints.toml")
    answer = await check(url, endpoints, resolver("93.184.215.14"))
    assert isinstance(answer, Answer)
    assert answer.outcome == "refused"
    assert "is not on the allow-list (endpoints.toml); nothing was sent" in answer.reason


async def test_localhost_by_name_is_refused_after_dns_unless_allowed_private(
        app: App, endpoint: Endpoint) -> None:
    allow(app.settings.folder(), endpoint.url("", host="localhost"))
    call_id = await call(app, endpoint.url("/status", host="localhost"))
    await relay_until_idle(app)
    shown = await view(app, call_id)
    assert shown["status"] == "refused"
    assert "localhost resolves to" in shown["reason"]
    assert "loopback address" in shown["reason"]
    assert await kinds(app, call_id) == ["requested", "refused"]  # not even started
    assert sum(endpoint.hits.values()) == 0


async def test_an_origin_not_on_the_list_is_refused(app: App, endpoint: Endpoint) -> None:
    call_id = await call(app, endpoint.url("/status"))  # no endpoints.toml at all
    await relay_until_idle(app)
    shown = await view(app, call_id)
    assert shown["status"] == "refused"
    assert f"http://127.0.0.1:{endpoint.port} is not on the allow-list" in shown["reason"]
    assert sum(endpoint.hits.values()) == 0


async def test_a_redirect_is_not_followed(app: App, endpoint: Endpoint) -> None:
    allow(app.settings.folder(), endpoint.url(""), private=True)
    call_id = await call(app, endpoint.url("/redirect"))
    await relay_until_idle(app)
    shown = await view(app, call_id)
    assert shown["status"] == "failed"
    assert "302, a redirect to http://169.254.169.254/latest/meta-data/" in shown["reason"]
    assert "redirects are not followed" in shown["reason"]
    assert dict(endpoint.hits) == {"/redirect": 1}


async def test_an_oversized_answer_is_cut_at_the_bound(app: App, endpoint: Endpoint) -> None:
    allow(app.settings.folder(), endpoint.url(""), private=True, max_bytes=1000)
    call_id = await call(app, endpoint.url("/big"))
    await relay_until_idle(app)
    shown = await view(app, call_id)
    assert shown["status"] == "completed"
    assert shown["response"]["truncated"] is True
    assert shown["response"]["body"] == "x" * 1000
    assert "longer than 1000 bytes and was cut there" in shown["reason"]
    assert BIG > 1000
