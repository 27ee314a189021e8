"""A small HTTP client for the console tests (stdlib http.client on a worker
thread): a cookie jar (the session, the sign-in nonce), redirects not
followed, so every status and header the server sends can be asserted."""

from __future__ import annotations

import html
import http.client
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlencode, urlsplit

import anyio.to_thread

COOKIE = "signoff_session"
SIGNIN_COOKIE = "signoff_signin"


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: str
    cookies: list[str] = field(default_factory=list)  # every Set-Cookie header

    def cookie(self, name: str) -> str:
        """The Set-Cookie header for `name` (the test fails without one)."""
        found = [c for c in self.cookies if c.startswith(f"{name}=")]
        assert found, self.cookies
        return found[-1]

    def csrf(self) -> str:
        found = re.search(r'name="csrf_token" value="([^"]*)"', self.body)
        assert found is not None, self.body
        return found.group(1)


@dataclass
class Browserless:
    base: str
    headers: dict[str, str] = field(default_factory=dict)
    cookie: str | None = None  # the session cookie: copy it to replay a session
    others: dict[str, str] = field(default_factory=dict)  # any other cookie

    def _cookie_header(self) -> str | None:
        jar = dict(self.others)
        if self.cookie is not None:
            jar[COOKIE] = self.cookie
        return "; ".join(f"{k}={v}" for k, v in jar.items()) or None

    def _keep(self, set_cookie: str) -> None:
        name, _, rest = set_cookie.partition("=")
        value = rest.split(";", 1)[0].strip('"')
        gone = value in ("", "null") or "max-age=0" in set_cookie.lower()
        if name == COOKIE:
            self.cookie = None if gone else value
        elif gone:
            self.others.pop(name, None)
        else:
            self.others[name] = value

    def _send(self, method: str, path: str, form: dict[str, str] | None,
              extra: dict[str, str]) -> Reply:
        url = urlsplit(self.base)
        conn = http.client.HTTPConnection(url.hostname or "127.0.0.1", url.port, timeout=30)
        headers = {**self.headers, **extra}
        if (cookies := self._cookie_header()) is not None:
            headers["Cookie"] = cookies
        body = None
        if form is not None:
            body = urlencode(form)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        try:
            conn.request(method, path, body=body, headers=headers)
            response = conn.getresponse()
            text = response.read().decode()
            raw = response.getheaders()
            reply = Reply(response.status, {k.lower(): v for k, v in raw}, text,
                          [v for k, v in raw if k.lower() == "set-cookie"])
        finally:
            conn.close()
        for set_cookie in reply.cookies:
            self._keep(set_cookie)
        return reply

    async def get(self, path: str, **headers: str) -> Reply:
        return await anyio.to_thread.run_sync(lambda: self._send("GET", path, None, headers))

    async def post(self, path: str, form: dict[str, str], **headers: str) -> Reply:
        return await anyio.to_thread.run_sync(lambda: self._send("POST", path, form, headers))

    async def sign_in(self, token: str, at: str = "/signin") -> Reply:
        """Open the sign-in page `at` and submit its form with `token`."""
        page = await self.get(at)
        form = {"csrf_token": page.csrf(), "token": token}
        if found := re.search(r'name="next" value="([^"]*)"', page.body):
            form["next"] = html.unescape(found.group(1))
        return await self.post("/signin", form)

    def _events(self, path: str, count: int, seen: Callable[[str], None]) -> list[str]:
        url = urlsplit(self.base)
        conn = http.client.HTTPConnection(url.hostname or "127.0.0.1", url.port, timeout=30)
        try:
            conn.request("GET", path, headers={"Cookie": self._cookie_header() or ""})
            response = conn.getresponse()
            assert response.status == 200, response.status
            found: list[str] = []
            while len(found) < count:
                line = response.fp.readline().decode()
                if line.startswith("data:"):
                    found.append(line[5:].strip())
                    seen(found[-1])
            return found
        finally:
            conn.close()

    async def events(self, path: str, count: int,
                     seen: Callable[[str], None] = lambda _data: None) -> list[str]:
        """The data of the first `count` server-sent events of a stream;
        `seen` is called (on the worker thread) as each arrives."""
        return await anyio.to_thread.run_sync(lambda: self._events(path, count, seen))

    def _stream(self, path: str, seen: Callable[[str], None]) -> list[str]:
        url = urlsplit(self.base)
        conn = http.client.HTTPConnection(url.hostname or "127.0.0.1", url.port, timeout=30)
        try:
            conn.request("GET", path, headers={"Cookie": self._cookie_header() or ""})
            response = conn.getresponse()
            assert response.status == 200, response.status
            found: list[str] = []
            while line := response.fp.readline().decode():
                if line.startswith("data:"):
                    found.append(line[5:].strip())
                    seen(found[-1])
            return found
        finally:
            conn.close()

    async def stream(self, path: str, seen: Callable[[str], None] = lambda _data: None
                     ) -> list[str]:
        """The data of every event of a stream, returned when the server ends it."""
        return await anyio.to_thread.run_sync(lambda: self._stream(path, seen))
