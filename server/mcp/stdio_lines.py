"""Lines in and out of the stdio wire: read and written by the event loop
itself when both ends are pipes or sockets, by worker threads otherwise.

Through `anyio.wrap_file` (what the SDK's stdio transport does) every line
read, every write and every flush is a hop to a worker thread and back:
three per request, each a wake-up of a thread and of the loop, which on a
busy machine cost more than the rest of a query. An MCP client starts its
server with pipes (Claude Desktop, `mcp.Client`, the SDK's stdio client),
and a pipe can be read and written without blocking: `PipeLines` hands
both to asyncio's pipe transports, so a line costs no thread at all.

Anything else - a terminal, a regular file, another event loop than
asyncio's - keeps the threads (`ThreadLines`): a terminal's descriptor is
shared with the shell, which must not find it non-blocking afterwards.
Both read bytes up to each newline (no bound: as the threads' `readline`),
decode UTF-8 replacing what is not, and write one line per message.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import stat
import sys
from collections import deque
from io import TextIOWrapper
from typing import BinaryIO, Protocol

import anyio

# Lines read ahead of the server before the loop stops reading the pipe:
# a client that floods the wire waits for the server, as with the threads.
_READ_AHEAD = 64


class Lines(Protocol):
    async def receive(self) -> str | None:
        """The next line without its newline; None at the end of input."""
        ...

    async def send(self, line: str) -> None:
        """Write `line` and a newline, flushed."""
        ...

    def close(self) -> None: ...


async def open_lines(wire_in: BinaryIO, wire_out: BinaryIO) -> Lines:
    """The wire's lines, on the loop if both ends are pipes, else on threads."""
    if (sys.platform != "win32" and _is_asyncio() and _is_pipe(wire_in)
            and _is_pipe(wire_out) and not _same_file(wire_in, wire_out)):
        try:
            return await PipeLines.open(wire_in, wire_out)
        except (OSError, ValueError, NotImplementedError):  # a loop without pipe support
            pass
    return ThreadLines(wire_in, wire_out)


class ThreadLines:
    def __init__(self, wire_in: BinaryIO, wire_out: BinaryIO) -> None:
        self._in = anyio.wrap_file(TextIOWrapper(wire_in, encoding="utf-8", errors="replace"))
        self._out = anyio.wrap_file(TextIOWrapper(wire_out, encoding="utf-8"))

    async def receive(self) -> str | None:
        line = await self._in.readline()
        return line.rstrip("\r\n") if line else None

    async def send(self, line: str) -> None:
        await self._out.write(line + "\n")
        await self._out.flush()

    def close(self) -> None:
        pass  # closefd=False files: the descriptors outlive the wire


class _Reader(asyncio.Protocol):
    def __init__(self) -> None:
        self.lines: deque[bytes] = deque()
        self.pending = bytearray()  # the start of a line not yet ended
        self.ended = False
        self.arrived = asyncio.Event()
        self.transport: asyncio.ReadTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.ReadTransport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.pending += data
        if b"\n" in data:
            *complete, rest = self.pending.split(b"\n")
            self.lines.extend(bytes(line) for line in complete)
            self.pending = bytearray(rest)
            if len(self.lines) >= _READ_AHEAD and self.transport is not None:
                self.transport.pause_reading()
        self.arrived.set()

    def eof_received(self) -> bool | None:
        self._end()
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        self._end()

    def _end(self) -> None:
        self.ended = True
        self.arrived.set()


class _Writer(asyncio.Protocol):
    def __init__(self) -> None:
        self.writable = asyncio.Event()
        self.writable.set()
        self.lost: Exception | None = None
        self.closed = False

    def pause_writing(self) -> None:
        self.writable.clear()

    def resume_writing(self) -> None:
        self.writable.set()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed, self.lost = True, exc
        self.writable.set()


class PipeLines:
    """Lines on asyncio's pipe transports (the descriptors made non-blocking
    while serving, blocking again on `close`)."""

    def __init__(self, descriptors: tuple[int, int], reader: _Reader,
                 reading: asyncio.ReadTransport, writer: _Writer,
                 writing: asyncio.WriteTransport) -> None:
        self._descriptors = descriptors
        self._reader, self._reading = reader, reading
        self._writer, self._writing = writer, writing

    @classmethod
    async def open(cls, wire_in: BinaryIO, wire_out: BinaryIO) -> PipeLines:
        loop = asyncio.get_running_loop()
        reading, reader = await loop.connect_read_pipe(_Reader, wire_in)
        try:
            writing, writer = await loop.connect_write_pipe(_Writer, wire_out)
        except BaseException:
            reading.close()
            for fd in (wire_in.fileno(), wire_out.fileno()):  # asyncio may have set either
                with contextlib.suppress(OSError):
                    os.set_blocking(fd, True)
            raise
        # Paused whenever anything is left unwritten, so `send` returns once
        # the line is in the pipe: what a flush did.
        writing.set_write_buffer_limits(high=0)
        return cls((wire_in.fileno(), wire_out.fileno()), reader, reading, writer, writing)

    async def receive(self) -> str | None:
        reader = self._reader
        while not reader.lines:
            if reader.ended:
                if not reader.pending:
                    return None
                line, reader.pending = bytes(reader.pending), bytearray()  # unended last line
                return _text(line)
            reader.arrived.clear()
            await reader.arrived.wait()
        line = reader.lines.popleft()
        if len(reader.lines) < _READ_AHEAD // 2 and not reader.ended:
            self._reading.resume_reading()  # a no-op unless paused
        return _text(line)

    async def send(self, line: str) -> None:
        if self._writer.closed:
            raise BrokenPipeError("the stdio wire is closed") from self._writer.lost
        self._writing.write(line.encode() + b"\n")
        await self._writer.writable.wait()

    def close(self) -> None:
        self._reading.close()
        # What a cancelled send left unwritten is dropped: closing would
        # have the loop write it later, on a descriptor blocking again, and
        # a client not reading would then hold the whole loop in os.write.
        if self._writing.get_write_buffer_size():
            self._writing.abort()
        else:
            self._writing.close()
        for fd in self._descriptors:  # the wire's description is stdin's and stdout's again
            with contextlib.suppress(OSError):
                os.set_blocking(fd, True)


def _text(line: bytes) -> str:
    return line.decode("utf-8", "replace").rstrip("\r\n")


def _is_pipe(file: BinaryIO) -> bool:
    try:
        mode = os.fstat(file.fileno()).st_mode
    except (OSError, ValueError):
        return False
    return stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode)


def _same_file(a: BinaryIO, b: BinaryIO) -> bool:
    """One socket as both stdin and stdout (inetd, systemd's Accept=yes):
    asyncio's write transport takes the socket turning readable (the next
    request) for the peer closing, so such a wire keeps the threads."""
    try:
        one, other = os.fstat(a.fileno()), os.fstat(b.fileno())
    except (OSError, ValueError):
        return True
    return (one.st_dev, one.st_ino) == (other.st_dev, other.st_ino)


def _is_asyncio() -> bool:
    try:
        asyncio.get_running_loop()  # none under another event loop (trio)
    except RuntimeError:
        return False
    return True
