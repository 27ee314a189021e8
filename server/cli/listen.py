"""Before a server command says where it listens: can it listen there?

uvicorn reports a taken port as a log line and `sys.exit(3)` from inside the
server (under `serve`, wrapped in a task group's ExceptionGroup). A command
checks the address itself first, so the user reads one line and exit 1; a
port taken in the instant between the check and uvicorn's bind still ends the
same way, through `startup_failure`."""

from __future__ import annotations

import errno
import socket
from collections.abc import Iterator
from contextlib import contextmanager

from uvicorn.config import STARTUP_FAILURE

from signoff.server.cli.common import fail


def check_port(host: str, port: int) -> None:
    """Bind every address `host` resolves to, as uvicorn will (address reuse
    on; IPv6 sockets IPv6 only), and let go; exit 1 with one line if one fails."""
    try:
        addresses = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM,
                                       flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        fail(f"cannot listen on {host}: {exc.strerror}")
        raise
    for family, kind, proto, _, address in addresses:
        with socket.socket(family, kind, proto) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            try:
                sock.bind(address)
            except OSError as exc:
                if exc.errno == errno.EADDRINUSE:
                    fail(f"port {port} on {host} is already in use")
                fail(f"cannot listen on port {port} on {host}: {exc.strerror}")


@contextmanager
def startup_failure(host: str, port: int) -> Iterator[None]:
    """uvicorn's startup failure (logged by uvicorn itself) as exit 1."""
    try:
        yield
    except SystemExit as exc:
        if exc.code != STARTUP_FAILURE:
            raise
        fail(f"could not listen on port {port} on {host}")
    except BaseExceptionGroup as group:
        match, rest = group.split(
            lambda e: isinstance(e, SystemExit) and e.code == STARTUP_FAILURE)
        if match is None or rest is not None:
            raise
        fail(f"could not listen on port {port} on {host}")
