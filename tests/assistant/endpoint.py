"""A local HTTP endpoint that counts the requests it gets, for call_api tests.

Routes: `/status` (a small JSON answer), `/orders` (POST, 201), `/redirect`
(302 to the cloud metadata address), `/big` (far more than any bound),
`/hang` (answers only after `hang` seconds). Bound to 127.0.0.1 only.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

BIG = 1_000_000


class Endpoint:
    def __init__(self, server: ThreadingHTTPServer) -> None:
        self.server = server
        self.hits: Counter[str] = Counter()
        self.bodies: list[bytes] = []
        self.hang = 2.0

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"


def _handler(endpoint_of: list[Endpoint]) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:  # quiet
            return

        def _answer(self, code: int, body: bytes, **headers: str) -> None:
            self.send_response(code)
            for name, value in {"Content-Type": "application/json", **headers}.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            endpoint = endpoint_of[0]
            endpoint.hits[self.path] += 1
            if self.path == "/status":
                self._answer(200, json.dumps({"ok": True, "host": self.headers["Host"]}).encode())
            elif self.path == "/redirect":
                self._answer(302, b"", Location="http://169.254.169.254/latest/meta-data/")
            elif self.path == "/big":
                self._answer(200, b"x" * BIG, **{"Content-Type": "text/plain"})
            elif self.path == "/hang":
                time.sleep(endpoint.hang)
                self._answer(200, b"{}")
            else:
                self._answer(404, b'{"error": "no such route"}')

        def do_POST(self) -> None:
            endpoint = endpoint_of[0]
            endpoint.hits[self.path] += 1
            length = int(self.headers.get("Content-Length", "0"))
            endpoint.bodies.append(self.rfile.read(length))
            self._answer(201, b'{"created": true}')

    return Handler


class _Quiet(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        return  # a client that gave up (a timeout under test) is expected


@contextmanager
def running_endpoint(port: int = 0) -> Iterator[Endpoint]:
    holder: list[Endpoint] = []
    server = _Quiet(("127.0.0.1", port), _handler(holder))
    holder.append(Endpoint(server))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    try:
        yield holder[0]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
