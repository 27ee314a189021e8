"""What of an upstream's result may leave signoff: redacted, then bounded.

Pure functions over `CallToolResult`s. Redact before bounding, so a secret
cut in half at the bound cannot survive as a recognisable prefix:

    bound_result(redact_result(result, secrets), max_bytes)

`redact_text` replaces known secret shapes (bearer tokens, provider API
keys, JWTs, PEM private keys) and the given literal values (the upstream's
declared secret env and header values) with "[redacted]". `redact_result`
applies it to every text a result carries, and the key rules of
`observability.redact` to its JSON (structured content, and text blocks
that are JSON documents). `bound_result` cuts what is over `max_bytes`
(counted as UTF-8 JSON) and says so, in a last text block and in `_meta`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

from mcp_types import (
    CallToolResult,
    ContentBlock,
    EmbeddedResource,
    TextContent,
    TextResourceContents,
)

from signoff.server.observability import REDACTED, redact

DEFAULT_MAX_BYTES = 256 * 1024
TRUNCATED_META = "signoff/truncated"
# Literal secrets shorter than this are not replaced: "1" or "main" would
# blank out ordinary text. Declared secrets are expected to be longer.
MIN_SECRET_LENGTH = 6
# Room kept for the note that says what was cut.
_NOTE_ROOM = 200

_SHAPES: tuple[tuple[re.Pattern[str], str], ...] = (
    # PEM private keys, also when the end line is missing (a cut document).
    (re.compile(r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY-----.*?"
                r"(?:-----END (?:[A-Z0-9]+ )*PRIVATE KEY-----|\Z)", re.DOTALL), REDACTED),
    (re.compile(r"(?i)\b(bearer)\s+[A-Za-z0-9._~+/-]{8,}=*"), rf"\1 {REDACTED}"),
    # OpenAI / Anthropic style keys: sk-..., sk-proj-..., sk-ant-...
    (re.compile(r"\bsk-[A-Za-z0-9_-]{16,}"), REDACTED),
    (re.compile(r"\b(?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{30,}\b"), REDACTED),
    (re.compile(r"\bgithub_pat_[A-Za-z0-9_]{30,}\b"), REDACTED),
    (re.compile(r"\bxox[abprs]-[A-Za-z0-9-]{10,}\b"), REDACTED),
    (re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"), REDACTED),
    (re.compile(r"\bAIza[0-9A-Za-z_-]{35}\b"), REDACTED),
    # JSON Web Tokens: three base64url parts, the first a JSON header.
    (re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"), REDACTED),
)


# What every shape above begins with: text without any of these holds none
# of them, so a caller scanning much text (the runtime log, an export) runs
# the shapes only where one may be. Substring tests, and a regex only where
# it has a literal to search for: one alternation of them all, case aside,
# took longer than the shapes themselves.
_HINTS = ("-----BEGIN", "github_pat_")
_HINT_PATTERNS = (re.compile(r"sk-[A-Za-z0-9_-]{16}"),  # not "ask-supervisor"
                  re.compile(r"eyJ[A-Za-z0-9_-]{8}"), re.compile(r"gh[pousr]_"),
                  re.compile(r"xox[abprs]-"), re.compile(r"A(?:KIA|SIA|Iza)"))


def may_hold_secret(text: str) -> bool:
    """False only when `text` holds none of the secret shapes `redact_text` knows."""
    return (any(hint in text for hint in _HINTS)
            or any(p.search(text) is not None for p in _HINT_PATTERNS)
            or "bearer" in text.lower())


def redact_text(text: str, secrets: Iterable[str] = ()) -> str:
    """`text` with known secret shapes and the literal `secrets` replaced."""
    for value in sorted({s for s in secrets if len(s) >= MIN_SECRET_LENGTH}, key=len,
                        reverse=True):
        text = text.replace(value, REDACTED)
    for pattern, replacement in _SHAPES:
        text = pattern.sub(replacement, text)
    return text


def _redact_json(value: Any, secrets: tuple[str, ...]) -> Any:
    if isinstance(value, str):
        return redact_text(value, secrets) if secrets or may_hold_secret(value) else value
    if isinstance(value, dict):
        return {k: _redact_json(v, secrets) for k, v in value.items()}
    if isinstance(value, list):
        return [_redact_json(v, secrets) for v in value]
    return value


def redact_texts(value: Any, secrets: Iterable[str] = ()) -> Any:
    """`value` (JSON: dicts, lists, scalars) with every string in it passed
    through `redact_text`; a copy, the input is kept."""
    return _redact_json(value, tuple(secrets))


def _redact_block_text(text: str, secrets: tuple[str, ...]) -> str:
    """A text block; one that is a JSON document is also redacted by key,
    as its structured twin is."""
    if text[:1] in ("{", "["):
        try:
            document = json.loads(text)
        except ValueError:
            pass
        else:
            keyed = redact(document)
            if keyed is not document:
                return json.dumps(_redact_json(keyed, secrets), ensure_ascii=False)
    return redact_text(text, secrets)


def _redact_block(block: ContentBlock, secrets: tuple[str, ...]) -> ContentBlock:
    if isinstance(block, TextContent):
        return block.model_copy(update={"text": _redact_block_text(block.text, secrets)})
    if isinstance(block, EmbeddedResource) and isinstance(block.resource, TextResourceContents):
        resource = block.resource.model_copy(
            update={"text": _redact_block_text(block.resource.text, secrets)})
        return block.model_copy(update={"resource": resource})
    return block


def redact_result(result: CallToolResult, secrets: Iterable[str] = ()) -> CallToolResult:
    """`result` with its texts and JSON redacted (a copy; the input is kept)."""
    values = tuple(secrets)
    update: dict[str, Any] = {"content": [_redact_block(b, values) for b in result.content]}
    if result.structured_content is not None:
        update["structured_content"] = _redact_json(redact(result.structured_content), values)
    return result.model_copy(update=update)


def _size(value: Any) -> int:
    if isinstance(value, TextContent):
        return len(value.text.encode())
    if hasattr(value, "model_dump_json"):
        return len(value.model_dump_json(by_alias=True, exclude_none=True).encode())
    return len(json.dumps(value, ensure_ascii=False, default=str).encode())


def _cut(text: str, max_bytes: int) -> str:
    return text.encode()[:max(0, max_bytes)].decode("utf-8", "ignore")


def _bound_content(blocks: list[ContentBlock], budget: int) -> tuple[list[ContentBlock], int]:
    """The blocks that fit in `budget` bytes (the first text that does not
    fit is cut to the room left) and how many were cut or dropped."""
    kept: list[ContentBlock] = []
    used = 0
    for index, block in enumerate(blocks):
        size = _size(block)
        if used + size <= budget:
            kept.append(block)
            used += size
            continue
        room = budget - used
        if isinstance(block, TextContent) and room > 0:
            kept.append(block.model_copy(update={"text": _cut(block.text, room)}))
        return kept, len(blocks) - index
    return kept, 0


def _bound_structured(value: Any, budget: int) -> Any:
    text = json.dumps(value, ensure_ascii=False, default=str)
    size = len(text.encode())
    if size <= budget:
        return value
    # Cut JSON is no JSON: what is kept is a preview, as text, in a marked object.
    return {TRUNCATED_META: {"bytes": size, "preview": _cut(text, budget - _NOTE_ROOM)}}


def bound_result(result: CallToolResult, max_bytes: int = DEFAULT_MAX_BYTES) -> CallToolResult:
    """`result` if its content and structured content fit in `max_bytes`
    together; else a copy cut to fit, saying what was cut."""
    content_bytes = sum(_size(b) for b in result.content)
    structured = result.structured_content
    structured_bytes = 0 if structured is None else _size(structured)
    total = content_bytes + structured_bytes
    if total <= max_bytes:
        return result
    # Each part gets half when both are there: servers often send the same
    # data twice (a JSON text block beside its structured twin).
    budget = max(0, max_bytes - _NOTE_ROOM)
    share = budget // 2 if structured is not None and result.content else budget
    content, cut = _bound_content(list(result.content), share)
    what = [f"{cut} content block(s) cut or dropped"] if cut else []
    what += ["its structured content replaced by a preview"] if structured_bytes > share else []
    note = (f"[signoff: the upstream's result was {total} bytes, over the limit of "
            f"{max_bytes}: {' and '.join(what)}]")
    content.append(TextContent(type="text", text=note))
    update: dict[str, Any] = {
        "content": content,
        "meta": {**(result.meta or {}), TRUNCATED_META: {"bytes": total, "max_bytes": max_bytes}},
    }
    if structured is not None:
        update["structured_content"] = _bound_structured(structured, share)
    return result.model_copy(update=update)
