"""The local HTTP endpoint `signoff demo assistant` calls: a weather
forecast on 127.0.0.1 (a port of its own), counting the requests it gets,
so the demo can show the call was made exactly once."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


class ForecastServer(ThreadingHTTPServer):
    daemon_threads = True
    requests = 0

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def handle_error(self, request: object, client_address: object) -> None:
        return  # a client that went away changes nothing here


class _Forecast(BaseHTTPRequestHandler):
    server: ForecastServer

    def log_message(self, format: str, *args: object) -> None:
        return

    def do_GET(self) -> None:
        self.server.requests += 1
        parts = urlsplit(self.path)
        city = parse_qs(parts.query).get("city", ["Lyon"])[0]
        found = parts.path == "/v1/forecast"
        body = json.dumps({"city": city, "tomorrow": "sunny", "high_c": 21} if found
                          else {"error": "no such route"}).encode()
        self.send_response(200 if found else 404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@contextmanager
def forecast_endpoint() -> Iterator[ForecastServer]:
    server = ForecastServer(("127.0.0.1", 0), _Forecast)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
