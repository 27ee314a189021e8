"""JSON Schemas of what `signoff export` writes, kept with the tests.

- `OPENAI_CHAT`: one line of OpenAI's chat fine-tuning file (the supervised
  format): `messages` (system, user, assistant, tool), optional `tools` and
  `parallel_tool_calls`, nothing else. An assistant message has `content`
  or `tool_calls` ([{id, type: "function", function: {name, arguments}}],
  arguments a JSON text, a name of letters, digits, _ and - up to 64) and
  may carry `weight` 0 or 1; a tool message answers a `tool_call_id`.
- `INSPECT_SAMPLE`: an Inspect AI `Sample` as its documentation lists the
  fields (input, choices, target, id, metadata, sandbox, files, setup), its
  input a list of ChatMessages (system, user, assistant with ToolCalls of
  id, function, arguments as an object; tool with tool_call_id, function,
  error {type, message}).
- `RUN_LINE`, `DECISION_LINE`: signoff's own jsonl lines, as SPEC words them.

Written from those formats' documentation, not generated from any package:
the export depends on neither.
"""

from __future__ import annotations

from typing import Any

DRAFT = "https://json-schema.org/draft/2020-12/schema"
_STRING = {"type": "string"}
_NULLABLE_STRING = {"type": ["string", "null"]}


def _message(role: str, extra: dict[str, Any], required: list[str]) -> dict[str, Any]:
    return {"type": "object", "required": ["role", *required], "additionalProperties": False,
            "properties": {"role": {"const": role}, **extra}}


_OPENAI_TOOL_CALL: dict[str, Any] = {
    "type": "object", "required": ["id", "type", "function"], "additionalProperties": False,
    "properties": {
        "id": {"type": "string", "minLength": 1},
        "type": {"const": "function"},
        "function": {
            "type": "object", "required": ["name", "arguments"], "additionalProperties": False,
            "properties": {"name": {"type": "string", "pattern": "^[a-zA-Z0-9_-]{1,64}$"},
                           "arguments": _STRING}}}}

OPENAI_CHAT: dict[str, Any] = {
    "$schema": DRAFT,
    "type": "object", "required": ["messages"], "additionalProperties": False,
    "properties": {
        "messages": {"type": "array", "minItems": 1, "items": {"oneOf": [
            _message("system", {"content": _STRING, "name": _STRING}, ["content"]),
            _message("user", {"content": _STRING, "name": _STRING}, ["content"]),
            {**_message("assistant", {
                "content": _NULLABLE_STRING, "name": _STRING,
                "tool_calls": {"type": "array", "minItems": 1, "items": _OPENAI_TOOL_CALL},
                "weight": {"enum": [0, 1]}}, []),
             "anyOf": [{"required": ["content"]}, {"required": ["tool_calls"]}]},
            _message("tool", {"tool_call_id": _STRING, "content": _STRING},
                     ["tool_call_id", "content"]),
        ]}},
        "tools": {"type": "array", "items": {
            "type": "object", "required": ["type", "function"],
            "properties": {"type": {"const": "function"}, "function": {
                "type": "object", "required": ["name"],
                "properties": {"name": _STRING, "description": _STRING,
                               "parameters": {"type": "object"}}}}}},
        "parallel_tool_calls": {"type": "boolean"},
    },
}

_CONTENT = {"oneOf": [_STRING, {"type": "array", "items": {
    "type": "object", "required": ["type"], "properties": {"type": _STRING}}}]}
_BASE = {"id": _NULLABLE_STRING, "content": _CONTENT,
         "source": {"enum": ["input", "generate", None]},
         "metadata": {"type": ["object", "null"]}}
_INSPECT_TOOL_CALL: dict[str, Any] = {
    "type": "object", "required": ["id", "function", "arguments"],
    "additionalProperties": False,
    "properties": {"id": _STRING, "function": _STRING, "arguments": {"type": "object"},
                   "internal": {}, "parse_error": _NULLABLE_STRING,
                   "view": {"type": ["object", "null"]}}}
_TOOL_ERROR = {
    "type": ["object", "null"], "required": ["type", "message"], "additionalProperties": False,
    "properties": {"type": {"enum": ["parsing", "timeout", "unicode_decode", "permission",
                                     "file_not_found", "is_a_directory", "output_limit",
                                     "approval", "unknown"]},
                   "message": _STRING}}

INSPECT_SAMPLE: dict[str, Any] = {
    "$schema": DRAFT,
    "type": "object", "required": ["input"], "additionalProperties": False,
    "properties": {
        "input": {"oneOf": [_STRING, {"type": "array", "minItems": 1, "items": {"oneOf": [
            _message("system", _BASE, ["content"]),
            _message("user", {**_BASE, "tool_call_id": {
                "type": ["array", "null"], "items": _STRING}}, ["content"]),
            _message("assistant", {**_BASE, "model": _NULLABLE_STRING, "tool_calls": {
                "type": ["array", "null"], "items": _INSPECT_TOOL_CALL}}, ["content"]),
            _message("tool", {**_BASE, "tool_call_id": _NULLABLE_STRING,
                              "function": _NULLABLE_STRING, "error": _TOOL_ERROR},
                     ["content"]),
        ]}}]},
        "choices": {"type": ["array", "null"], "items": _STRING},
        "target": {"oneOf": [_STRING, {"type": "array", "items": _STRING}]},
        "id": {"type": ["string", "integer", "null"]},
        "metadata": {"type": ["object", "null"]},
        "sandbox": {"oneOf": [_STRING, {"type": "array", "prefixItems": [_STRING, _STRING],
                                        "minItems": 2, "maxItems": 2}, {"type": "null"}]},
        "files": {"type": ["object", "null"], "additionalProperties": _STRING},
        "setup": _NULLABLE_STRING,
    },
}

_MISSING = {"type": "array", "uniqueItems": True, "items": {
    "enum": ["arguments", "results", "policy_input", "tool_call"]}}
_STAMP = {"type": "string", "format": "date-time"}
_CALL: dict[str, Any] = {
    "type": "object",
    "required": ["entry_id", "tool", "kind", "at", "outcome", "arguments", "result"],
    "properties": {"tool": _STRING, "kind": {"enum": ["query", "command"]}, "at": _STAMP,
                   "arguments": {"type": ["object", "null"]}, "outcome": _STRING}}
_DECISION = {
    "type": "object", "required": ["effect", "rule_id", "reason", "input"],
    "properties": {"effect": {"enum": ["allow", "ask", "deny"]}, "rule_id": _STRING,
                   "reason": _STRING, "input": {"type": ["object", "null"]}}}
_VERDICT: dict[str, Any] = {
    "type": "object", "required": ["outcome", "status", "by", "reason", "votes"],
    "properties": {
        "outcome": {"enum": ["accepted", "rejected", "expired", "withdrawn", "pending"]},
        "by": {"enum": ["policy", "reviewers", "proposer", "expiry"]},
        "votes": {"type": "array", "items": {
            "type": "object", "required": ["voter_id", "verdict", "comment"],
            "properties": {"verdict": {"enum": ["approve", "reject"]}}}}}}

RUN_LINE: dict[str, Any] = {
    "$schema": DRAFT,
    "type": "object",
    "required": ["run_id", "tenant_id", "principal_id", "started_at", "calls", "missing"],
    "properties": {"calls": {"type": "array", "minItems": 1, "items": {
        **_CALL, "properties": {**_CALL["properties"], "decision": _DECISION,
                                "verdict": _VERDICT}}},
        "missing": _MISSING},
}

DECISION_LINE: dict[str, Any] = {
    "$schema": DRAFT,
    "type": "object",
    "required": ["proposal_id", "tenant_id", "principal", "context", "proposal", "decision",
                 "verdict", "missing"],
    "properties": {
        "context": {"type": "array", "items": {
            **_CALL, "properties": {**_CALL["properties"], "kind": {"const": "query"}}}},
        "proposal": {"type": "object",
                     "required": ["command_type", "payload", "rationale", "created_at"]},
        "decision": _DECISION, "later_decisions": {"type": "array", "items": _DECISION},
        "verdict": {**_VERDICT, "properties": {**_VERDICT["properties"], "outcome": {
            "enum": ["accepted", "rejected", "expired", "withdrawn"]}}},
        "missing": _MISSING},
}
