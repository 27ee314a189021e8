"""A line `signoff serve` cannot parse on stdio still gets an answer: a
JSON-RPC parse error (-32700) or invalid request (-32600), with the request's
id where one can be read and null where none can, as over HTTP - and the
server goes on answering. Raw lines to a real `signoff serve` subprocess."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import anyio
import pytest
from anyio.abc import Process
from anyio.streams.text import TextReceiveStream

from tests.mcp.conftest import serve_args

PARSE_ERROR, INVALID_REQUEST = -32700, -32600
READ_LIMIT = 30.0  # seconds: a safety net so a missing answer fails instead of hanging


def nested(depth: int, request_id: int) -> str:
    """A tools/call whose arguments nest `depth` arrays deep."""
    return (f'{{"jsonrpc":"2.0","id":{request_id},"method":"tools/call","params":'
            f'{{"name":"list_cases","arguments":{{"x":{"[" * depth}{"]" * depth}}}}}}}')


# (raw line, the id the answer must carry, the error code)
UNREADABLE: list[tuple[str, int | None, int]] = [
    (nested(250, 10), 10, PARSE_ERROR),                    # deeper than the parser goes
    (nested(5000, 11), 11, PARSE_ERROR),
    ('{"jsonrpc":"2.0","id":12,"method":"tools/call","params":{"name":"search_evidence",'
     '"arguments":{"case_id":"case-acme-001","query":"\\ud800"}}}', 12, PARSE_ERROR),
    ('{"jsonrpc":"2.0","id":13,"method":5}', 13, INVALID_REQUEST),  # JSON, not JSON-RPC
    ("this is not json", None, PARSE_ERROR),
    ("[" * 100_000, None, PARSE_ERROR),                      # no id can be read at all
    ('{"foo": 1}', None, INVALID_REQUEST),
    ('{"jsonrpc":"2.0","id":14,"result":"\\ud800"}', None, PARSE_ERROR),  # a response: no id
]


class Wire:
    def __init__(self, process: Process) -> None:
        assert process.stdin is not None
        assert process.stdout is not None
        self._stdin = process.stdin
        self._stdout = TextReceiveStream(process.stdout)
        self._buffer = ""

    async def send(self, line: str | dict[str, Any]) -> None:
        text = line if isinstance(line, str) else json.dumps(line)
        await self._stdin.send((text + "\n").encode())

    async def next_message(self) -> dict[str, Any]:
        with anyio.fail_after(READ_LIMIT):
            while "\n" not in self._buffer:
                self._buffer += await self._stdout.receive()
        line, self._buffer = self._buffer.split("\n", 1)
        message: dict[str, Any] = json.loads(line)
        return message


@pytest.mark.anyio
async def test_unparsable_lines_are_answered_and_the_server_carries_on(
        db: Path, tmp_path: Path) -> None:
    with (tmp_path / "stderr.log").open("w") as errlog:
        process = await anyio.open_process([sys.executable, *serve_args(db)], stderr=errlog)
        async with process:
            wire = Wire(process)
            await wire.send({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
                "protocolVersion": "2025-11-25", "capabilities": {},
                "clientInfo": {"name": "raw-test", "version": "0"}}})
            assert "result" in await wire.next_message()
            await wire.send({"jsonrpc": "2.0", "method": "notifications/initialized"})
            for line, request_id, code in UNREADABLE:
                await wire.send(line)
                answer = await wire.next_message()
                assert answer["jsonrpc"] == "2.0", line[:80]
                assert answer["id"] == request_id, (line[:80], answer)
                assert answer["error"]["code"] == code, (line[:80], answer)
                assert answer["error"]["message"], line[:80]
            await wire.send({"jsonrpc": "2.0", "id": 20, "method": "tools/list"})
            answer = await wire.next_message()
            assert answer["id"] == 20, answer
            assert len(answer["result"]["tools"]) > 5, answer
            assert process.stdin is not None
            await process.stdin.aclose()
            assert await process.wait() == 0
