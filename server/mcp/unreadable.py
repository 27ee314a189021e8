"""The answer to a line of JSON-RPC the server cannot read.

A line the SDK's parser (`jsonrpc_message_adapter`, pydantic's JSON) refuses
is answered as JSON-RPC says, and as streamable HTTP answers such a body:

- `-32700` (parse error) for a line the parser cannot read - not JSON, or
  nested deeper than it goes (about 200 levels), or with a lone `\\ud800`;
- `-32600` (invalid request) for JSON that is no JSON-RPC message;

with the request's id when one can be read, else null. The id is read by a
scan of the top-level object that does not recurse, so no nesting hides it,
and only from a request: a response's id belongs to the requests this server
sent, and echoing it would answer one of the client's own requests instead.
"""

from __future__ import annotations

import json
import re

from mcp_types import (
    INVALID_REQUEST,
    PARSE_ERROR,
    ErrorData,
    JSONRPCError,
    JSONRPCMessage,
    RequestId,
    jsonrpc_message_adapter,
)
from pydantic import ValidationError

NESTED = object()  # what `_members` shows of an array or object member
_DECODE = json.JSONDecoder().raw_decode
_SPACE = re.compile(r"[ \t\n\r]*")
_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]', re.DOTALL)  # a string, or a bracket


def read_line(line: str) -> JSONRPCMessage | JSONRPCError:
    """The message on one line, or the error that answers it."""
    try:
        return jsonrpc_message_adapter.validate_json(line, by_name=False)
    except ValidationError as exc:
        unreadable = [e["msg"] for e in exc.errors() if e["type"] == "json_invalid"]
        error = (ErrorData(code=PARSE_ERROR, message=f"Parse error: {unreadable[0]}")
                 if unreadable else
                 ErrorData(code=INVALID_REQUEST,
                           message="Invalid request: not a JSON-RPC 2.0 message"))
        return JSONRPCError(jsonrpc="2.0", id=_request_id(line), error=error)


def _request_id(line: str) -> RequestId | None:
    """The id of the request on `line`, if it is a request and has one."""
    members = _members(line)
    found = members.get("id")
    if "method" not in members or "result" in members or "error" in members:
        return None  # a response, or nothing that names a method
    if isinstance(found, bool):
        return None
    if isinstance(found, str):
        try:
            found.encode()  # a lone surrogate could not be written back
        except UnicodeEncodeError:
            return None
        return found
    return found if isinstance(found, int) else None


def _members(line: str) -> dict[str, object]:
    """The members of the top-level JSON object on `line` (arrays and objects
    as `NESTED`), read without recursion, so that nesting too deep for any
    parser still shows the id."""
    found: dict[str, object] = {}
    at = _space(line, 0)
    if not line.startswith("{", at):
        return found
    at += 1
    try:
        while not line.startswith("}", at := _space(line, at)):
            key, at = _DECODE(line, at)
            at = _space(line, at)
            if not line.startswith(":", at):
                break
            at = _space(line, at + 1)
            if line[at] in ("[", "{"):
                value, at = NESTED, _past_nested(line, at)
            else:
                value, at = _DECODE(line, at)
            if isinstance(key, str):
                found[key] = value
            at = _space(line, at)
            if not line.startswith(",", at):
                break
            at += 1
    except (ValueError, IndexError):  # the rest is unreadable: keep what was read
        pass
    return found


def _space(line: str, at: int) -> int:
    match = _SPACE.match(line, at)
    return match.end() if match else at


def _past_nested(line: str, at: int) -> int:
    """Where the array or object starting at `at` ends, however deep."""
    depth = 0
    for token in _TOKEN.finditer(line, at):
        if token.group() in ("[", "{"):
            depth += 1
        elif token.group() in ("]", "}"):
            depth -= 1
            if depth == 0:
                return token.end()
    raise ValueError("unterminated")
