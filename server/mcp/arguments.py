"""The first check of every tool call's arguments, before the application
sees them: their size, and their JSON types, strictly against the schema the
tool publishes.

The application validates again behind this (the proposal service, the
query registry), but leniently, in pydantic's default mode: it would turn
`"4"` into 4 and `true` into 1, accepting what the published schema refuses.
The arguments arrived as JSON, so they are validated here as JSON text, in
pydantic's strict mode, against the very model the published schema is made
from: a string is not a number, a boolean is neither a number nor an integer
(as in JSON Schema), while values JSON has no type of its own for (a date, an
enum member) are still the strings the schema describes.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import jsonschema
from pydantic import BaseModel, ValidationError

from signoff.server.services.proposals import MAX_ARGUMENT_BYTES, problems_of
from signoff.server.services.receipts import FieldProblem

WHOLE = "(arguments)"
MAX_PROBLEMS = 10


def argument_problems(model: type[BaseModel], arguments: Mapping[str, Any]) -> list[FieldProblem]:
    """What is wrong with `arguments` for a tool taking `model`; [] when nothing is."""
    text = _text(arguments)
    if isinstance(text, FieldProblem):
        return [text]
    try:
        model.model_validate_json(text, strict=True)  # the text just measured: one dump
    except ValidationError as exc:
        return problems_of(exc)
    return []


def schema_problems(schema: Mapping[str, Any], arguments: Mapping[str, Any]) -> list[FieldProblem]:
    """The same check against a JSON Schema that no model describes (a
    gateway tool's pinned schema), with a real JSON Schema validator."""
    text = _text(arguments)
    if isinstance(text, FieldProblem):
        return [text]
    validator_class = jsonschema.validators.validator_for(schema, jsonschema.Draft202012Validator)
    errors = sorted(validator_class(schema).iter_errors(arguments), key=lambda e: list(e.path))
    return [FieldProblem(field=".".join(str(p) for p in e.path) or WHOLE, problem=e.message)
            for e in errors[:MAX_PROBLEMS]]


def _text(arguments: Mapping[str, Any]) -> str | FieldProblem:
    """The arguments as JSON text, or why they are not within bounds."""
    try:
        text = json.dumps(arguments, ensure_ascii=False, allow_nan=False)
    except UnicodeEncodeError:  # a lone surrogate: not text (a ValueError, so first)
        return FieldProblem(field=WHOLE, problem="not valid Unicode text")
    except (TypeError, ValueError):
        return FieldProblem(field=WHOLE, problem="not JSON")
    size = len(text.encode())  # measured as the proposal service measures it
    if size > MAX_ARGUMENT_BYTES:
        return FieldProblem(field=WHOLE, problem=f"{size} bytes; the limit is {MAX_ARGUMENT_BYTES}")
    return text
