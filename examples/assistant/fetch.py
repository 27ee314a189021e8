"""One guarded HTTP request for `call_api`, on httpx2.

Before anything is sent: the URL's scheme, host and port must be on the
allow-list, and every address the host resolves to must be public, unless
its endpoint says `private = true` (loopback, private, link-local, shared
and reserved ranges, IPv4 inside IPv6 included). The request then goes to
the address that was checked — not to a second lookup of the name, which
could answer differently — with the name kept in Host and in TLS (SNI and
certificate check). No redirect is followed, no proxy from the environment
is used, and no more than the endpoint's `max_bytes` of the answer is read
(uncompressed: the request asks for identity encoding).

What comes back is one of the outcomes `api.record` takes: `refused` and
`not_sent` mean no byte of the request left, `outcome_unknown` that it may
have reached the endpoint without an answer coming back.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import anyio
import httpx2

from signoff.examples.assistant.endpoints import Endpoint, Endpoints, origin

Outcome = Literal["completed", "failed", "not_sent", "refused", "outcome_unknown"]
Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolve = Callable[[str, int], Awaitable[Sequence[str]]]


@dataclass(frozen=True)
class Answer:
    outcome: Outcome
    reason: str
    status_code: int | None = None
    content_type: str = ""
    body: str = ""
    truncated: bool = False


@dataclass(frozen=True)
class Target:
    """Where a request may go: its endpoint and the address checked for it."""

    endpoint: Endpoint
    address: Address


async def resolve_host(host: str, port: int) -> list[str]:
    found = await anyio.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in found]


def kind_of(address: Address) -> str | None:
    """What makes `address` not public, or None if it is."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    for name, flag in (("loopback", address.is_loopback), ("link-local", address.is_link_local),
                       ("unspecified", address.is_unspecified),
                       ("multicast", address.is_multicast), ("private", address.is_private),
                       ("reserved", address.is_reserved)):
        if flag:
            return name
    return None if address.is_global else "non-public"


async def check(url: str, endpoints: Endpoints,
                resolve: Resolve = resolve_host) -> Target | Answer:
    """The target of `url`, or why no request may be sent to it."""
    endpoint = endpoints.match(url)
    scheme, host, port = origin(url)
    if endpoint is None:
        return Answer("refused", f"{scheme}://{host}:{port} is not on the allow-list "
                                 f"({endpoints.source}); nothing was sent")
    try:
        found = {a: ipaddress.ip_address(a.split("%", 1)[0]) for a in await resolve(host, port)}
    except (OSError, ValueError) as exc:
        return Answer("not_sent", f"{host} did not resolve ({exc}); nothing was sent")
    if not found:
        return Answer("not_sent", f"{host} resolved to no address; nothing was sent")
    for shown, address in found.items():
        kind = kind_of(address)
        if kind is not None and not endpoint.private:
            return Answer("refused", f"{host} resolves to {shown}, a {kind} address; the "
                          "allow-list does not mark this endpoint private = true, so nothing "
                          "was sent")
    return Target(endpoint, next(iter(found.values())))


async def send(target: Target, method: str, url: str, body: dict[str, Any] | None) -> Answer:
    """Send the request once to the checked address; read a bounded answer."""
    request_url = httpx2.URL(url)
    headers = {"Host": request_url.netloc.decode("ascii"), "Accept-Encoding": "identity"}
    extensions = {"sni_hostname": request_url.host} if request_url.scheme == "https" else {}
    limit = target.endpoint.max_bytes
    async with httpx2.AsyncClient(follow_redirects=False, trust_env=False,
                                  timeout=httpx2.Timeout(target.endpoint.timeout)) as client:
        try:
            request = client.build_request(
                method, request_url.copy_with(host=str(target.address)), headers=headers,
                json=body, extensions=extensions)
            response = await client.send(request, stream=True)
            try:
                read, truncated = await _bounded(response, limit)
            finally:
                await response.aclose()
        except (httpx2.ConnectError, httpx2.ConnectTimeout, httpx2.PoolTimeout) as exc:
            return Answer("not_sent", f"could not connect ({type(exc).__name__}: {exc}); "
                                      "nothing was sent")
        except httpx2.HTTPError as exc:
            return Answer("outcome_unknown", f"the request was sent but no whole answer came "
                                             f"back ({type(exc).__name__}: {exc})")
    return _classified(response, read, truncated, limit)


async def _bounded(response: httpx2.Response, limit: int) -> tuple[bytes, bool]:
    chunks, size = [], 0
    async for chunk in response.aiter_raw():
        chunks.append(chunk)
        size += len(chunk)
        if size > limit:
            return b"".join(chunks)[:limit], True
    return b"".join(chunks), False


def _classified(response: httpx2.Response, read: bytes, truncated: bool, limit: int) -> Answer:
    code = response.status_code
    cut = f"; the answer was longer than {limit} bytes and was cut there" if truncated else ""
    outcome: Outcome = "completed" if code < 300 else "failed"
    reason = f"the endpoint answered {code}{cut}"
    if 300 <= code < 400:
        where = response.headers.get("location", "(no location)")
        reason = (f"the endpoint answered {code}, a redirect to {where[:300]}; redirects are "
                  f"not followed{cut}")
    return Answer(outcome, reason, status_code=code,
                  content_type=response.headers.get("content-type", "")[:200],
                  body=read.decode("utf-8", errors="replace"), truncated=truncated)
