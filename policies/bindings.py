"""Turns a `PolicyInput` into the five maps a `when` condition reads.

Built once per decision and shared by every condition. Shapes (string-keyed):

- `principal`: id, kind, tenant, roles (list)
- `proposal`: command_type, rationale, evidence_refs (list), confidence
- `payload`: the command's payload, as given
- `aggregate`: type, id, version, fields (map), and status when known; an empty
  map when the command has no target yet, so `has(aggregate.status)` is false
- `run`: proposals_so_far, principal_proposals_last_hour, and id when known

Values CEL cannot hold (tuples, sets, dates) are converted to lists and ISO
strings so one odd payload field cannot make every condition error.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date, datetime, time
from decimal import Decimal
from enum import Enum
from typing import Any

from signoff.policies.cel_runtime import VARIABLES, Reads
from signoff.policies.model import PolicyInput

_SCALARS = (str, int, float, bool, type(None), bytes)


Builder = Callable[[PolicyInput], dict[str, Any]]

# How to read each field of the fixed-shape variables. Optional fields are left
# out of the map when unknown, so `has()` is false for them.
_FIELDS: dict[str, dict[str, Callable[[PolicyInput], Any]]] = {
    "principal": {
        "id": lambda i: i.principal.id,
        "kind": lambda i: i.principal.kind,
        "tenant": lambda i: i.principal.tenant,
        "roles": lambda i: list(i.principal.roles),
    },
    "proposal": {
        "command_type": lambda i: i.command_type,
        "rationale": lambda i: i.proposal.rationale,
        "evidence_refs": lambda i: list(i.proposal.evidence_refs),
        "confidence": lambda i: i.proposal.confidence,
    },
    "aggregate": {
        "type": lambda i: i.aggregate.type if i.aggregate else None,
        "id": lambda i: i.aggregate.id if i.aggregate else None,
        "version": lambda i: i.aggregate.version if i.aggregate else None,
        "status": lambda i: i.aggregate.status if i.aggregate else None,
        "fields": lambda i: plain_map(i.aggregate.fields) if i.aggregate else None,
    },
    "run": {
        "id": lambda i: i.run.id,
        "proposals_so_far": lambda i: i.run.proposals_so_far,
        "principal_proposals_last_hour": lambda i: i.run.principal_proposals_last_hour,
    },
}
_OPTIONAL = {("run", "id"), ("aggregate", "status")}


def variables(inp: PolicyInput, reads: Reads | None = None) -> dict[str, Any]:
    """The variable maps for `inp`: all of them, or only what `reads` names."""
    return builder(reads)(inp)


def builder(reads: Reads | None = None) -> Builder:
    """A function building only the variables and fields in `reads` (all when
    None). A field absent from the input stays absent, so `has()` answers the
    same as on the full maps. The runtime converts every entry it is given, so
    leaving out what no condition reads is a large part of a decision's cost."""
    wanted: Reads = reads if reads is not None else dict.fromkeys(VARIABLES)
    parts = tuple((name, _variable(name, fields)) for name, fields in wanted.items())

    def build(inp: PolicyInput) -> dict[str, Any]:
        return {name: part(inp) for name, part in parts}

    return build


def _variable(name: str, fields: frozenset[str] | None) -> Builder:
    if name == "payload":
        if fields is None:
            return lambda inp: plain_map(inp.payload)
        keys = tuple(sorted(fields))
        return lambda inp: plain_map({k: inp.payload[k] for k in keys if k in inp.payload})
    getters = _FIELDS[name]
    chosen = tuple((f, getters[f], (name, f) in _OPTIONAL)
                   for f in (getters if fields is None else sorted(fields)) if f in getters)
    needs_target = name == "aggregate"

    def build(inp: PolicyInput) -> dict[str, Any]:
        if needs_target and inp.aggregate is None:
            return {}
        out: dict[str, Any] = {}
        for field, get, optional in chosen:
            value = get(inp)
            if value is not None or not optional:
                out[field] = value
        return out

    return build


def plain_map(data: Mapping[str, Any]) -> dict[str, Any]:
    """`data` itself when it holds only scalars and lists of them (the common
    case), else a copy with containers and odd values converted."""
    if type(data) is dict:
        for value in data.values():
            kind = type(value)
            if kind is list:
                if any(type(v) not in _SCALARS for v in value):
                    break
            elif kind not in _SCALARS:
                break
        else:
            return data
    return {str(k): _plain(v) for k, v in data.items()}


def _plain(value: Any) -> Any:
    if isinstance(value, _SCALARS):
        return value.value if isinstance(value, Enum) else value
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, set | frozenset):
        items = [_plain(v) for v in value]
        try:
            return sorted(items)
        except TypeError:
            return items
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, Enum):
        return _plain(value.value)
    return value
