"""The shapes `signoff export --format` writes, from a (redacted) line.

- `jsonl`: the line as `exports_lines` builds it.
- `openai-chat`: the chat fine-tuning shape, `{"messages": [...]}`: each
  call is an assistant message with `tool_calls` ([{id, type: "function",
  function: {name, arguments: <JSON text>}}]) and a `tool` message with its
  `tool_call_id` and the result as text. A decision line ends with the
  proposal as the assistant's call, weighted 1 if it was accepted and 0 if
  not, so training learns from what reviewers accept. Nothing else is in a
  line (the format has no room for it).
- `inspect`: an Inspect AI `Sample` (`id`, `input` as chat messages,
  `target`, `metadata`). A run's target is empty (a transcript to replay or
  score); a decision's is its verdict ("accepted", "rejected", "expired",
  "withdrawn"), with the decision, its input and the votes in metadata.

A call whose arguments were never recorded (a store older than the
runtime log's arguments) cannot become a tool call and is left out of these
two; a command's can be rebuilt from the proposal it made, and is. The
count left out is returned beside the line.
"""

from __future__ import annotations

import json
import re
from typing import Any, Literal

from signoff.server.ops.exports import Kind

Format = Literal["jsonl", "openai-chat", "inspect"]
FORMATS: tuple[Format, ...] = ("jsonl", "openai-chat", "inspect")
_NOT_A_NAME = re.compile(r"[^A-Za-z0-9_-]")
# Outcomes of a call that were not a tool answer, as Inspect's ToolCallError types them.
_ERRORS = {"forbidden": "permission", "validation_error": "parsing",
           "not_found": "unknown", "internal_error": "unknown"}
Message = dict[str, Any]


def function_name(tool: str) -> str:
    """An OpenAI function name (letters, digits, _ and -, at most 64)."""
    return _NOT_A_NAME.sub("_", tool)[:64]


def _text(result: Any) -> str:
    return result if isinstance(result, str) else json.dumps(result, ensure_ascii=False)


def _arguments(call: dict[str, Any]) -> dict[str, Any] | None:
    """The call's recorded arguments, else a command's, rebuilt from its proposal."""
    if call.get("arguments") is not None:
        return dict(call["arguments"])
    decision = call.get("decision") or {}
    judged = decision.get("input")
    if call.get("kind") == "command" and judged is not None:
        return {**judged["payload"], **judged["proposal"]}
    return None


def _result(call: dict[str, Any]) -> Any:
    if call.get("result") is not None:
        return call["result"]
    return {"outcome": call["outcome"], "proposal_id": call.get("proposal_id")}


def _call_id(call: dict[str, Any]) -> str:
    return f"call_{call['entry_id']}"


def _openai_pair(call: dict[str, Any], arguments: dict[str, Any]) -> list[Message]:
    ask: Message = {"role": "assistant", "tool_calls": [{
        "id": _call_id(call), "type": "function",
        "function": {"name": function_name(call["tool"]),
                     "arguments": json.dumps(arguments, ensure_ascii=False)}}]}
    return [ask, {"role": "tool", "tool_call_id": _call_id(call),
                  "content": _text(_result(call))}]


def _inspect_pair(call: dict[str, Any], arguments: dict[str, Any]) -> list[Message]:
    ask: Message = {"role": "assistant", "content": "", "source": "generate", "tool_calls": [{
        "id": _call_id(call), "function": call["tool"], "arguments": arguments}]}
    answer: Message = {"role": "tool", "content": _text(_result(call)),
                       "tool_call_id": _call_id(call), "function": call["tool"]}
    error = _ERRORS.get(call["outcome"])
    if error is not None:
        answer["error"] = {"type": error, "message": answer["content"]}
    return [ask, answer]


def _messages(calls: list[dict[str, Any]], shape: Format) -> tuple[list[Message], int]:
    pair = _openai_pair if shape == "openai-chat" else _inspect_pair
    messages: list[Message] = []
    left_out = 0
    for call in calls:
        arguments = _arguments(call)
        if arguments is None:
            left_out += 1
            continue
        messages += pair(call, arguments)
    return messages, left_out


def _proposal_call(line: dict[str, Any]) -> dict[str, Any]:
    """A decision line's proposal, as the call that made it."""
    proposal = line["proposal"]
    arguments = proposal["arguments"]
    if arguments is None:  # no runtime-log entry: rebuilt from the proposal
        arguments = {**proposal["payload"], "rationale": proposal["rationale"],
                     "evidence_refs": proposal["evidence_refs"],
                     "confidence": proposal["confidence"]}
    return {"entry_id": line["proposal_id"], "tool": proposal["tool"] or
            proposal["command_type"], "kind": "command", "arguments": arguments}


def _decision_messages(line: dict[str, Any], shape: Format) -> tuple[list[Message], int]:
    messages, left_out = _messages(line["context"], shape)
    proposed = _proposal_call(line)
    ask = (_openai_pair if shape == "openai-chat" else _inspect_pair)(
        {**proposed, "outcome": "ok", "result": ""}, proposed["arguments"])[0]
    if shape == "openai-chat":
        ask["weight"] = 1 if line["verdict"]["outcome"] == "accepted" else 0
    return [*messages, ask], left_out


def shaped(kind: Kind, line: dict[str, Any], shape: Format) -> tuple[dict[str, Any] | None, int]:
    """`line` in `shape`, and how many of its calls could not be shown;
    None when nothing of it can be (a run whose every call lacks its arguments)."""
    if shape == "jsonl":
        return line, 0
    if kind == "runs":
        messages, left_out = _messages(line["calls"], shape)
    else:
        messages, left_out = _decision_messages(line, shape)
    if not messages:
        return None, left_out
    if shape == "openai-chat":
        return {"messages": messages}, left_out
    if kind == "runs":
        metadata = {k: v for k, v in line.items() if k != "calls"}
        metadata["proposals"] = [
            {k: call[k] for k in ("proposal_id", "command_type", "decision", "verdict")}
            for call in line["calls"] if "verdict" in call]
        return {"id": line["run_id"] or line["calls"][0]["entry_id"], "input": messages,
                "target": "", "metadata": {**metadata, "calls_left_out": left_out}}, left_out
    metadata = {k: v for k, v in line.items() if k != "context"}
    return {"id": line["proposal_id"], "input": messages, "target": line["verdict"]["outcome"],
            "metadata": {**metadata, "calls_left_out": left_out}}, left_out
