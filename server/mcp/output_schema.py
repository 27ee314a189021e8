"""The output schema a tool publishes: its result model's JSON Schema, in the
form that is cheapest to check.

A client that follows the protocol checks every structured result against
the tool's output schema (the Python SDK does, with `jsonschema`, on every
call). Pydantic's schema is right but dear to check: each nested model is a
`$ref` the validator resolves for every instance, each optional field an
`anyOf` whose failing branch builds an error object before the `null`
branch passes, and each field carries a generated `title`. `slim` keeps the
same constraints without those:

- references inlined (a recursive model keeps its schema as pydantic wrote
  it: inlining would not end);
- `anyOf: [X, {"type": "null"}]` folded into X, with "null" added to its
  `type` (and `None` to its `enum`) - only where X holds no keyword that
  would judge a null on its own;
- generated titles and `additionalProperties: true` (the default) dropped.

Descriptions, enums, formats, defaults and `required` stay: they are what a
model reads and what a client checks.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

NULL = {"type": "null"}
# Keywords whose value is a map of subschemas, a list of them, or one.
_SCHEMA_MAPS = frozenset({"properties", "patternProperties", "dependentSchemas"})
_SCHEMA_LISTS = frozenset({"anyOf", "oneOf", "allOf", "prefixItems"})
_SCHEMA_ONE = frozenset({"items", "additionalProperties", "not", "contains", "propertyNames",
                         "if", "then", "else", "unevaluatedProperties", "unevaluatedItems"})
# Keywords that apply to a null instance too: X holding one cannot be folded.
_JUDGES_NULL = frozenset({"anyOf", "oneOf", "allOf", "not", "if", "$ref", "type"})


class _Recursive(Exception):
    pass


def slim(schema: Mapping[str, Any]) -> dict[str, Any]:
    """`schema` (a pydantic model's JSON Schema) accepting the same
    instances, in the form cheapest to validate."""
    defs = dict(schema.get("$defs", {}))
    body = {k: v for k, v in schema.items() if k != "$defs"}
    try:
        slimmed: dict[str, Any] = _node(body, defs, ())
    except _Recursive:
        return dict(schema)
    return slimmed


def _node(node: Any, defs: Mapping[str, Any], seen: tuple[str, ...]) -> Any:
    if not isinstance(node, Mapping):
        return node  # a boolean schema
    if "$ref" in node:
        name = str(node["$ref"]).rsplit("/", 1)[-1]
        if name in seen or name not in defs:
            raise _Recursive(name)
        target = _node(defs[name], defs, (*seen, name))
        # Keywords beside the reference (a field's description) win over the model's.
        return {**target, **_node({k: v for k, v in node.items() if k != "$ref"}, defs, seen)}
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key == "title" or (key == "additionalProperties" and value is True):
            continue
        if key in _SCHEMA_MAPS:
            out[key] = {name: _node(sub, defs, seen) for name, sub in value.items()}
        elif key in _SCHEMA_LISTS:
            out[key] = [_node(sub, defs, seen) for sub in value]
        elif key in _SCHEMA_ONE:
            out[key] = _node(value, defs, seen)
        else:
            out[key] = value
    return _fold_nullable(out)


def _fold_nullable(node: dict[str, Any]) -> dict[str, Any]:
    branches = node.get("anyOf")
    if not isinstance(branches, list) or len(branches) != 2 or NULL not in branches or \
            any(key in node for key in ("type", "enum", "const")):
        return node
    other = branches[1] if branches[0] == NULL else branches[0]
    if not isinstance(other, dict) or not isinstance(other.get("type"), str) or \
            any(key in other for key in _JUDGES_NULL - {"type"}):
        return node
    folded = {**other, **{k: v for k, v in node.items() if k != "anyOf"}}
    folded["type"] = [other["type"], "null"]
    if "const" in other:
        folded.pop("const")
        folded["enum"] = [other["const"], None]
    elif "enum" in other:
        folded["enum"] = [*other["enum"], None]
    return folded
