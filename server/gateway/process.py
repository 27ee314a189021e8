"""An upstream MCP server as a child process, spoken to over its stdio.

The SDK's `stdio_client` always merges part of signoff's own environment
(HOME, PATH, USER, ...) into the child's; a gateway upstream must get only
what the gateway file declares, so signoff spawns it itself:

- the environment is exactly the declared one: no PATH, no HOME unless
  declared. The executable is looked up once, before the spawn, on the
  declared PATH if there is one, else on signoff's own PATH, so
  `command = ["mcp-server-git", ...]` is found. Without a declared PATH, the
  programs a server starts by name are looked for where the C library looks
  by default (/bin:/usr/bin): `git` is found, `npx`, `uvx` or
  `#!/usr/bin/env node` from elsewhere need `PATH = "env:PATH"` declared.
- a request counts as sent once its line was written whole into the child's
  stdin; a write that fails because the pipe is closed was never read, so the
  caller may safely try again (`CallMark.sent` stays False).
- stderr goes to `on_stderr` one line at a time, for the caller to redact.
- the child runs in its own process group and is stopped with it: stdin
  closed, a grace period, then SIGTERM and SIGKILL to the group.
"""

from __future__ import annotations

import contextvars
import os
import shutil
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from types import TracebackType
from typing import Self

import anyio
import mcp_types as types
from anyio.abc import ByteReceiveStream, Process
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream
from mcp.client import Transport
from mcp.os.posix.utilities import terminate_posix_process_tree
from mcp.shared.message import SessionMessage

from signoff.server.errors import ConfigError

# A line longer than this from an upstream is a broken upstream, not a result:
# the connection is dropped rather than holding it all in memory.
MAX_LINE_BYTES = 64 * 1024 * 1024
MAX_STDERR_LINE = 4096
EXIT_GRACE_SECONDS = 2.0
KILL_GRACE_SECONDS = 2.0
EXIT_POLL_SECONDS = 0.02


@dataclass
class CallMark:
    """Set for the duration of one tools/call (a context variable): the
    transport records whether that request left signoff."""

    sent: bool = False
    # The HTTP transport's view: the connection was refused before any byte
    # of the request went out ...
    refused: bool = False
    # ... or a POST of this call was answered: the upstream has it.
    delivered: bool = False

    @property
    def maybe_received(self) -> bool:
        return self.sent and (self.delivered or not self.refused)


current_call: contextvars.ContextVar[CallMark | None] = contextvars.ContextVar(
    "signoff_gateway_call", default=None)


def is_tool_call(message: SessionMessage) -> bool:
    root = message.message
    return isinstance(root, types.JSONRPCRequest) and root.method == "tools/call"


def resolve_executable(argv: Sequence[str], env: Mapping[str, str],
                       parent_path: str | None) -> list[str]:
    """`argv` with its program as an absolute path. Raises ConfigError when
    it cannot be found (a gateway file mistake, reported before any spawn)."""
    if not argv:
        raise ConfigError("an upstream's command is empty")
    program = argv[0]
    if os.sep in program:
        found = program if os.access(program, os.X_OK) else None
    else:
        found = shutil.which(program, path=env.get("PATH", parent_path))
    if found is None:
        raise ConfigError(f"command not found: {program!r} (looked on "
                          f"{'the declared PATH' if 'PATH' in env else 'PATH'})")
    return [os.path.abspath(found), *argv[1:]]


@dataclass
class ProcessState:
    """What the supervisor may read of a running child."""

    pid: int | None = None
    # The code it exited with on its own (not when signoff stopped it).
    returncode: int | None = None
    # The code it ended with, whoever ended it (set once it is gone).
    final_returncode: int | None = None
    stopping: bool = False
    # Its stdout closed: every line it wrote has been handed on.
    eof: anyio.Event = field(default_factory=anyio.Event)
    exited: anyio.Event = field(default_factory=anyio.Event)
    # It exited or closed its stdout: the session is over either way.
    ended: anyio.Event = field(default_factory=anyio.Event)


class _StdinWriter:
    """The session's write stream: each message becomes one line written to
    the child's stdin in the sender's own task, so the sender knows whether it
    went out."""

    def __init__(self, process: Process) -> None:
        assert process.stdin is not None
        self._stdin = process.stdin
        self._lock = anyio.Lock()
        self._closed = False

    async def send(self, item: SessionMessage, /) -> None:
        if self._closed:
            raise anyio.ClosedResourceError
        data = (item.message.model_dump_json(by_alias=True, exclude_unset=True) + "\n").encode()
        mark = current_call.get() if is_tool_call(item) else None
        async with self._lock:
            try:
                # From here a cancelled write may still deliver: count it sent.
                if mark is not None:
                    mark.sent = True
                await self._stdin.send(data)
            except (anyio.BrokenResourceError, anyio.ClosedResourceError, OSError):
                # The child's stdin is gone: nothing of this line was read.
                if mark is not None:
                    mark.sent = False
                raise anyio.BrokenResourceError from None

    async def aclose(self) -> None:
        self._closed = True
        with suppress(OSError, anyio.BrokenResourceError, anyio.ClosedResourceError):
            await self._stdin.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc_val: BaseException | None, exc_tb: TracebackType | None) -> None:
        await self.aclose()


async def _lines(stream: ByteReceiveStream, limit: int) -> AsyncIterator[bytes]:
    """Lines of `stream` without their newline; raises ValueError for a line
    longer than `limit`."""
    parts: list[bytes] = []
    size = 0
    with suppress(anyio.EndOfStream, anyio.ClosedResourceError, anyio.BrokenResourceError,
                  OSError):
        while True:
            chunk = await stream.receive()
            while (cut := chunk.find(b"\n")) >= 0:
                parts.append(chunk[:cut])
                yield b"".join(parts)
                parts, size, chunk = [], 0, chunk[cut + 1:]
            parts.append(chunk)
            size += len(chunk)
            if size > limit:
                raise ValueError(f"a line of more than {limit} bytes")
    if parts and (rest := b"".join(parts)):
        yield rest


async def _pump_stdout(process: Process,
                       sink: MemoryObjectSendStream[SessionMessage | Exception]) -> None:
    assert process.stdout is not None
    async with sink:
        try:
            async for line in _lines(process.stdout, MAX_LINE_BYTES):
                if not line.strip():
                    continue
                try:
                    message = types.jsonrpc_message_adapter.validate_json(line, by_name=False)
                except ValueError as exc:
                    await sink.send(exc)
                    continue
                await sink.send(SessionMessage(message))
        except ValueError:
            # An endless line: stop reading; the session sees the connection end.
            process.kill()
        except (anyio.BrokenResourceError, anyio.ClosedResourceError):
            pass  # the session is gone


async def _pump_stderr(process: Process, on_stderr: Callable[[str], None]) -> None:
    assert process.stderr is not None
    with suppress(ValueError):
        async for line in _lines(process.stderr, MAX_LINE_BYTES):
            text = line.decode("utf-8", "replace").rstrip()
            if text:
                on_stderr(text[:MAX_STDERR_LINE])


async def _exit(process: Process) -> None:
    """Until the child exits. Polls: `Process.wait()` also waits for the
    pipes, which a grandchild may hold open."""
    while True:
        if process.returncode is not None:
            return
        await anyio.sleep(EXIT_POLL_SECONDS)


async def _stop(process: Process) -> None:
    """(stdin already closed) A grace period, then the whole group stopped."""
    with anyio.move_on_after(EXIT_GRACE_SECONDS):
        await _exit(process)
    if process.returncode is None:
        await terminate_posix_process_tree(process, KILL_GRACE_SECONDS)
        with anyio.move_on_after(KILL_GRACE_SECONDS):
            await _exit(process)


def stdio_transport(argv: Sequence[str], env: Mapping[str, str], *,
                    on_stderr: Callable[[str], None], state: ProcessState,
                    cwd: str | None = None) -> Transport:
    """A Transport for `mcp.Client`: spawns `argv` (program already resolved)
    with exactly `env`; `state` follows the child (pid, exit)."""

    @asynccontextmanager
    async def open_streams() -> AsyncIterator[
            tuple[MemoryObjectReceiveStream[SessionMessage | Exception], _StdinWriter]]:
        process = await anyio.open_process(list(argv), env=dict(env), cwd=cwd,
                                           start_new_session=True)
        state.pid = process.pid
        sink, source = anyio.create_memory_object_stream[SessionMessage | Exception](0)
        writer = _StdinWriter(process)

        async def watch() -> None:
            await _exit(process)
            if not state.stopping:
                state.returncode = process.returncode
            state.exited.set()
            state.ended.set()

        async def read() -> None:
            await _pump_stdout(process, sink)
            state.eof.set()
            state.ended.set()

        try:
            async with anyio.create_task_group() as tg:
                tg.start_soon(read)
                tg.start_soon(_pump_stderr, process, on_stderr)
                tg.start_soon(watch)
                try:
                    yield source, writer
                finally:
                    if process.returncode is not None:  # it went first
                        state.returncode = process.returncode
                    state.stopping = True
                    with anyio.CancelScope(shield=True):
                        await writer.aclose()
                        await _stop(process)
                        source.close()
                    tg.cancel_scope.cancel()
        finally:
            state.final_returncode = process.returncode
            state.ended.set()
            with anyio.CancelScope(shield=True), anyio.move_on_after(KILL_GRACE_SECONDS):
                await process.aclose()

    return open_streams()
