"""A small HTTP client for the console tests (stdlib http.client on a worker
thread): one session cookie, redirects not followed, so every status and
header the server sends can be asserted."""

from __future__ import annotations

import http.client
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlencode, urlsplit

import anyio.to_thread

COOKIE = "signoff_session"


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: str

    def csrf(self) -> str:
        found = re.search(r'name="csrf_token" value="([^"]*)"', self.body)
        assert found is not None, self.body
        return found.group(1)


@dataclass
class Browserless:
    base: str
    headers: dict[str, str] = field(default_factory=dict)
    cookie: str | None = None

    def _send(self, method: str, path: str, form: dict[str, str] | None,
              extra: dict[str, str]) -> Reply:
        url = urlsplit(self.base)
        conn = http.client.HTTPConnection(url.hostname or "127.0.0.1", url.port, timeout=30)
        headers = {**self.headers, **extra}
        if self.cookie is not None:
            headers["Cookie"] = f"{COOKIE}={self.cookie}"
        body = None
        if form is not None:
            body = urlencode(form)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        try:
            conn.request(method, path, body=body, headers=headers)
            response = conn.getresponse()
            text = response.read().decode()
            reply = Reply(response.status, {k.lower(): v for k, v in response.getheaders()},
                          text)
        finally:
            conn.close()
        set_cookie = reply.headers.get("set-cookie", "")
        if set_cookie.startswith(f"{COOKIE}="):
            value = set_cookie.split(";", 1)[0].split("=", 1)[1]
            self.cookie = None if value in ("", "null") else value
        return reply

    async def get(self, path: str, **headers: str) -> Reply:
        return await anyio.to_thread.run_sync(lambda: self._send("GET", path, None, headers))

    async def post(self, path: str, form: dict[str, str], **headers: str) -> Reply:
        return await anyio.to_thread.run_sync(lambda: self._send("POST", path, form, headers))

    async def sign_in(self, token: str) -> Reply:
        page = await self.get("/signin")
        return await self.post("/signin", {"csrf_token": page.csrf(), "token": token})

    def _events(self, path: str, count: int, seen: Callable[[str], None]) -> list[str]:
        url = urlsplit(self.base)
        conn = http.client.HTTPConnection(url.hostname or "127.0.0.1", url.port, timeout=30)
        try:
            conn.request("GET", path, headers={"Cookie": f"{COOKIE}={self.cookie}"})
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
