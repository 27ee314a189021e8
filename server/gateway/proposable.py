"""Whether an upstream tool's input schema can become a proposal tool's.

A propose tool takes the upstream's arguments plus signoff's own (rationale,
evidence_refs, confidence, idempotency_key): signoff exposes the upstream's
object schema with its own arguments added to `properties`, and strips them
again before it validates the rest against the pinned schema and forwards
it. So `additionalProperties: false` (or `unevaluatedProperties: false`) is
fine: the added arguments are listed properties in what the agent sees and
never reach the upstream. What cannot work is a schema that is not a plain
object schema signoff can add properties to, or that already gives one of
those names a meaning.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from jsonschema.exceptions import SchemaError
from jsonschema.validators import Draft202012Validator, validator_for

from signoff.server.gateway.model import RESERVED_ARGUMENTS

# Root keywords under which added properties could be refused or given
# another meaning (a branch with its own additionalProperties: false, a
# reference signoff would have to follow, a cap on the number of properties).
_ROOT_BLOCKERS = ("$ref", "$dynamicRef", "allOf", "anyOf", "oneOf", "not", "if",
                  "propertyNames", "maxProperties")
# Keywords whose keys are argument names.
_NAMED = ("properties", "dependentRequired", "dependentSchemas", "dependencies")


def why_not_proposable(schema: Mapping[str, Any]) -> str | None:
    """Why this input schema cannot take signoff's arguments, or None."""
    if schema.get("type") != "object":
        return 'its input schema is not an object schema (type must be "object")'
    try:
        validator_for(schema, default=Draft202012Validator).check_schema(dict(schema))
    except SchemaError as exc:
        return f"its input schema is not a valid JSON Schema ({exc.message})"
    names: set[str] = set()
    for keyword in _NAMED:
        value = schema.get(keyword)
        if isinstance(value, Mapping):
            names.update(value)
    required = schema.get("required")
    if isinstance(required, list):
        names.update(n for n in required if isinstance(n, str))
    clash = sorted(RESERVED_ARGUMENTS & names)
    if clash:
        return (f"it has an argument named {', '.join(clash)}, which signoff adds to every "
                "propose tool")
    blocker = next((k for k in _ROOT_BLOCKERS if k in schema), None)
    if blocker is not None:
        return (f"its input schema uses {blocker!r} at the root, so signoff cannot add "
                f"{', '.join(sorted(RESERVED_ARGUMENTS))} to it")
    return _pattern_clash(schema.get("patternProperties"))


def _pattern_clash(patterns: object) -> str | None:
    """A patternProperties regex that would also constrain one of signoff's
    arguments (which then carries two meanings in the exposed schema)."""
    if not isinstance(patterns, Mapping):
        return None
    for pattern in patterns:
        try:
            compiled = re.compile(pattern)
        except re.error:
            return (f"its patternProperties {pattern!r} cannot be checked against signoff's "
                    "arguments")
        hit = sorted(n for n in RESERVED_ARGUMENTS if compiled.search(n))
        if hit:
            return (f"its patternProperties {pattern!r} matches {', '.join(hit)}, which signoff "
                    "adds to every propose tool")
    return None
