"""The stdio wire's lines read and written on the event loop, over real
pipes: split however the bytes arrive, unbounded, undecodable bytes
replaced, a flood read ahead only so far, and the descriptors blocking
again afterwards, what a cancelled send left dropped on close; anything but
a pipe, or one socket as both ends, keeps the worker threads."""

from __future__ import annotations

import os
import select
import socket
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import BinaryIO

import anyio
import pytest

from signoff.server.mcp.stdio_lines import _READ_AHEAD, PipeLines, ThreadLines, open_lines


@contextmanager
def pipes() -> Iterator[tuple[BinaryIO, int, BinaryIO, int]]:
    """(the server's in, the client's end writing it, the server's out, the
    client's end reading it)."""
    in_read, in_write = os.pipe()
    out_read, out_write = os.pipe()
    server_in = os.fdopen(in_read, "rb", closefd=False)
    server_out = os.fdopen(out_write, "wb", closefd=False)
    try:
        yield server_in, in_write, server_out, out_read
    finally:
        for fd in (in_read, in_write, out_read, out_write):
            with suppress(OSError):
                os.close(fd)


@pytest.mark.anyio
async def test_lines_split_however_the_bytes_arrive_and_the_last_unended_one_counts() -> None:
    with pipes() as (server_in, client, server_out, _):
        lines = await open_lines(server_in, server_out)
        assert isinstance(lines, PipeLines)
        os.write(client, b'{"a":')
        os.write(client, b'1}\r\n\n{"b":2}\n{"c"')
        os.write(client, b":\xff3}")
        os.close(client)
        got = [await lines.receive() for _ in range(4)]
        assert got == ['{"a":1}', "", '{"b":2}', '{"c":\ufffd3}']
        assert await lines.receive() is None
        lines.close()


@pytest.mark.anyio
async def test_a_line_of_any_length_goes_both_ways_and_is_in_the_pipe_once_sent() -> None:
    big = "x" * (3 << 20)
    with pipes() as (server_in, client, server_out, reader):
        lines = await open_lines(server_in, server_out)
        received: list[bytes] = []

        def drain() -> None:
            while not received or not received[-1].endswith(b"\n"):
                received.append(os.read(reader, 1 << 16))

        async with anyio.create_task_group() as tasks:
            tasks.start_soon(anyio.to_thread.run_sync, drain)
            await lines.send(big)  # returns only once all of it is written
        assert b"".join(received) == big.encode() + b"\n"
        await anyio.to_thread.run_sync(os.write, client, big.encode() + b"\n")
        assert await lines.receive() == big
        lines.close()


@pytest.mark.anyio
async def test_a_flood_is_read_ahead_only_so_far_and_nothing_is_lost() -> None:
    count, size = _READ_AHEAD * 8, 8 << 10
    flood = [(b"%d:" % n).ljust(size, b"x") for n in range(count)]
    with pipes() as (server_in, client, server_out, _):
        lines = await open_lines(server_in, server_out)
        assert isinstance(lines, PipeLines)

        def send() -> None:
            os.write(client, b"".join(line + b"\n" for line in flood))  # blocks until read
            os.close(client)

        async with anyio.create_task_group() as tasks:
            tasks.start_soon(anyio.to_thread.run_sync, send)
            await anyio.sleep(0.2)
            assert len(lines._reader.lines) < count // 2  # reading paused: the client waits
            got = [await lines.receive() for _ in range(count)]
        assert got == [line.decode() for line in flood]
        assert await lines.receive() is None
        lines.close()


@pytest.mark.anyio
async def test_the_descriptors_are_blocking_again_after_serving() -> None:
    with pipes() as (server_in, _, server_out, _):
        lines = await open_lines(server_in, server_out)
        assert not os.get_blocking(server_in.fileno())
        lines.close()
        assert os.get_blocking(server_in.fileno())
        assert os.get_blocking(server_out.fileno())


@pytest.mark.anyio
async def test_a_regular_file_keeps_the_threads(tmp_path: Path) -> None:
    source = tmp_path / "in.jsonl"
    source.write_bytes(b'{"a":1}\r\nsecond')
    with source.open("rb") as server_in, (tmp_path / "out.jsonl").open("wb") as server_out:
        lines = await open_lines(server_in, server_out)
        assert isinstance(lines, ThreadLines)
        assert [await lines.receive(), await lines.receive()] == ['{"a":1}', "second"]
        assert await lines.receive() is None
        await lines.send("answer")
        lines.close()
    assert (tmp_path / "out.jsonl").read_bytes() == b"answer\n"


@pytest.mark.anyio
async def test_one_socket_as_both_ends_keeps_the_threads_and_answers_every_line() -> None:
    """inetd or systemd's Accept=yes give one socket as stdin and stdout; on
    asyncio's write transport the next request would read as the peer
    closing, and only the first answer would get out."""
    server, client = socket.socketpair()
    fd_in, fd_out = os.dup(server.fileno()), os.dup(server.fileno())
    wire_in = os.fdopen(fd_in, "rb", closefd=False)
    wire_out = os.fdopen(fd_out, "wb", closefd=False)
    try:
        lines = await open_lines(wire_in, wire_out)
        assert isinstance(lines, ThreadLines)
        for word in ("one", "two", "three"):
            client.sendall(word.encode() + b"\n")
            assert await lines.receive() == word
            await lines.send(word.upper())
        with anyio.fail_after(5):
            answered = b""
            while answered.count(b"\n") < 3:
                answered += await anyio.to_thread.run_sync(client.recv, 1024)
        assert answered == b"ONE\nTWO\nTHREE\n"
        lines.close()
    finally:
        for fd in (fd_in, fd_out):
            with suppress(OSError):
                os.close(fd)
        server.close()
        client.close()


@pytest.mark.anyio
async def test_closing_drops_what_a_cancelled_send_left_unwritten() -> None:
    """Stopping while a slow client has the pipe full: what is left is
    dropped, not written later by the loop on a blocking descriptor."""
    big = "x" * (1 << 20)
    with pipes() as (server_in, _, server_out, reader):
        lines = await open_lines(server_in, server_out)
        assert isinstance(lines, PipeLines)
        with anyio.move_on_after(0.2):
            await lines.send(big)  # nobody reads: it waits, and is cancelled
        lines.close()
        assert os.get_blocking(server_out.fileno())

        def drain() -> bytes:
            # In a thread: were the loop to write what is left on the now
            # blocking descriptor, this reading lets it finish (and shows it).
            got = b""
            while select.select([reader], [], [], 0.5)[0]:
                chunk = os.read(reader, 1 << 16)
                if not chunk:
                    break
                got += chunk
            return got

        with anyio.fail_after(30):
            got = await anyio.to_thread.run_sync(drain)
        assert len(got) < len(big)
