"""The stdio transport of `signoff serve`: newline-delimited JSON-RPC, with
an answer to every line the server cannot read.

The SDK's `mcp.server.stdio.stdio_server` parses each line with
`jsonrpc_message_adapter.validate_json` and, when that fails, puts the
exception on the read stream, where the server's dispatcher
(`JSONRPCDispatcher._dispatch`, which has no `on_stream_exception` observer on
the server side) debug-logs it and drops the line. A request the parser
refuses - nested deeper than pydantic's JSON parser goes, or with a lone
`\\ud800` escape - so got no answer, and its client waited until its own
timeout. This transport answers such a line itself (`unreadable.read_line`)
and hands the server only what it can read.

Otherwise it does what the SDK's does: UTF-8 lines in and out (invalid input
bytes replaced), and while serving fd 0 reads the null device and fd 1 writes
to stderr, so a stray print in a handler or a child process cannot corrupt
the wire. Only it reads and writes pipes on the event loop, with no thread
hop per line (`stdio_lines`).
"""

from __future__ import annotations

import os
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import BinaryIO

import anyio
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream
from mcp.shared.message import SessionMessage
from mcp_types import JSONRPCError

from signoff.server.mcp.stdio_lines import open_lines
from signoff.server.mcp.unreadable import read_line

Streams = tuple[MemoryObjectReceiveStream[SessionMessage | Exception],
                MemoryObjectSendStream[SessionMessage]]


@contextmanager
def _wire() -> Iterator[tuple[BinaryIO, BinaryIO]]:
    """The wire, on private duplicates of fds 0 and 1, which meanwhile read
    the null device and write to stderr."""
    sys.stdout.flush()
    wire_in, wire_out = os.dup(0), os.dup(1)
    null = os.open(os.devnull, os.O_RDONLY)
    try:
        os.dup2(null, 0)
        os.dup2(2, 1)
    finally:
        os.close(null)
    try:
        # closefd=False: a worker thread may still block reading the wire
        # after serving ends; its descriptor must not be recycled under it.
        yield os.fdopen(wire_in, "rb", closefd=False), os.fdopen(wire_out, "wb", closefd=False)
    finally:
        sys.stdout.flush()
        os.dup2(wire_in, 0)
        os.dup2(wire_out, 1)


@asynccontextmanager
async def stdio_streams() -> AsyncIterator[Streams]:
    """(read, write) streams over stdin/stdout, for `Server.run`."""
    with _wire() as (wire_in, wire_out):
        lines = await open_lines(wire_in, wire_out)
        inbound, read_stream = anyio.create_memory_object_stream[SessionMessage | Exception](0)
        write_stream, outbound = anyio.create_memory_object_stream[SessionMessage](0)

        async def read() -> None:
            async with inbound:
                while (line := await lines.receive()) is not None:
                    if not line.strip():
                        continue
                    message = read_line(line)
                    try:
                        if isinstance(message, JSONRPCError):
                            await write_stream.send(SessionMessage(message))
                        else:
                            await inbound.send(SessionMessage(message))
                    except (anyio.ClosedResourceError, anyio.BrokenResourceError):
                        return  # the server is done

        async def write() -> None:
            async with outbound:
                async for item in outbound:
                    await lines.send(item.message.model_dump_json(by_alias=True,
                                                                  exclude_unset=True))

        try:
            async with anyio.create_task_group() as tasks:
                tasks.start_soon(read)
                tasks.start_soon(write)
                try:
                    yield read_stream, write_stream
                finally:
                    await write_stream.aclose()
        finally:
            lines.close()
