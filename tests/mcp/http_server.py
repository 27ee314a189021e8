"""`signoff serve --transport http` as a real subprocess on a free port, with
a small test policy, a tokens file and HS256 JWTs."""

from __future__ import annotations

import hashlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2
import jwt
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

JWT_SECRET = "test-secret-that-is-at-least-32-bytes-long"
ISSUER = "https://issuer.example.test"
TOKENS = {"acme-agent-token": ("agent:triage", "acme"),
          "globex-agent-token": ("agent:triage", "globex"),
          "acme-carol-token": ("user:carol", "acme")}
CAROL_TOKEN = "acme-carol-token"

# Agents may escalate and read the context view; people (carol) may only write briefs.
POLICY = """
[queries]
default = { kinds = ["agent", "user", "service"] }
tools = { get_case_context = { kinds = ["agent"] } }

[[rule]]
id = "brief.allow"
commands = ["brief.create"]
effect = "allow"
reason = "a brief is a note"

[[rule]]
id = "escalate.agents-ask"
commands = ["case.escalate"]
principals = { kinds = ["agent"] }
effect = "ask"
reason = "agents may ask a supervisor to escalate"
approvers = { roles = ["supervisor"], count = 1 }
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass(frozen=True)
class HttpServer:
    url: str
    db: Path | str
    log: Path

    def stderr(self) -> str:
        return " ".join(self.log.read_text().split())

    def jwt(self, claims: dict[str, Any], secret: str = JWT_SECRET) -> str:
        base = {"iss": ISSUER, "aud": self.url, "exp": int(time.time()) + 300}
        return jwt.encode({**base, **claims}, secret, algorithm="HS256")

    @asynccontextmanager
    async def client(self, token: str, mode: str = "legacy") -> AsyncIterator[Client]:
        headers = {"Authorization": f"Bearer {token}"}
        async with (
            httpx2.AsyncClient(headers=headers, timeout=30) as http,
            Client(streamable_http_client(self.url, http_client=http), mode=mode) as session,
        ):
            yield session


def write_files(folder: Path, policy_text: str = POLICY) -> tuple[Path, Path]:
    policy = folder / "policy.toml"
    policy.write_text(policy_text)
    tokens = folder / "tokens.toml"
    tokens.write_text("".join(
        f'[[token]]\nsha256 = "{hashlib.sha256(t.encode()).hexdigest()}"\n'
        f'principal = "{p}"\ntenant = "{tenant}"\n\n' for t, (p, tenant) in TOKENS.items()))
    return policy, tokens


@contextmanager
def http_server(db: Path | str, folder: Path, *extra: str, tokens: bool = True,
                policy: str = POLICY, env: Mapping[str, str] | None = None,
                ) -> Iterator[HttpServer]:
    """The server with the test policy (or `policy`), the tokens file (unless
    `tokens` is False) and JWTs, any `extra` arguments and `env` variables."""
    policy_file, tokens_file = write_files(folder, policy)
    port = free_port()
    url = f"http://127.0.0.1:{port}/mcp"
    environment = {**os.environ, "SIGNOFF_JWT_SECRET": JWT_SECRET, **(env or {})}
    args = ["--tokens", str(tokens_file)] if tokens else []
    path = folder / f"http-server-{port}.log"
    with path.open("w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "signoff.server.cli", "serve", "--transport", "http",
             "--port", str(port), "--db", str(db), "--policy", str(policy_file),
             "--jwt-issuer", ISSUER, *args, *extra],
            stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=environment)
        try:
            _wait_for(port, process)
            yield HttpServer(url, db, path)
        finally:
            process.terminate()
            process.wait(timeout=30)


def _wait_for(port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"signoff serve exited with {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("signoff serve did not start listening")
