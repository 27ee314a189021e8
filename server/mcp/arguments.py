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

from pydantic import BaseModel, ValidationError

from signoff.server.services.proposals import MAX_ARGUMENT_BYTES, problems_of
from signoff.server.services.receipts import FieldProblem

WHOLE = "(arguments)"


def argument_problems(model: type[BaseModel], arguments: Mapping[str, Any]) -> list[FieldProblem]:
    """What is wrong with `arguments` for a tool taking `model`; [] when nothing is."""
    try:
        text = json.dumps(arguments, ensure_ascii=False, allow_nan=False)
        size = len(text.encode())  # measured as the proposal service measures it
    except UnicodeEncodeError:  # a lone surrogate: not text (a ValueError, so first)
        return [FieldProblem(field=WHOLE, problem="not valid Unicode text")]
    except (TypeError, ValueError):
        return [FieldProblem(field=WHOLE, problem="not JSON")]
    if size > MAX_ARGUMENT_BYTES:
        return [FieldProblem(field=WHOLE,
                             problem=f"{size} bytes; the limit is {MAX_ARGUMENT_BYTES}")]
    try:
        model.model_validate_json(text, strict=True)
    except ValidationError as exc:
        return problems_of(exc)
    return []
