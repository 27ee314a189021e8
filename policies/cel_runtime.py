"""The one place that knows which CEL implementation evaluates `when` conditions.

Everything else sees `compile_condition`, `compile_bitmask`, `bind`, `references`
and the `evaluate` methods, so the runtime (today `cel-expr-python`, the C++ CEL
behind a Python binding) can be swapped without touching the loader or the
gate. Its values are untyped; this module turns them into plain `bool`, `int`
or an `EvalError` before they leave.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from cel_expr_python import cel

# The names a condition may read; each is bound to a string-keyed map.
VARIABLES: tuple[str, ...] = ("principal", "proposal", "payload", "aggregate", "run")

# A variable name that is not a field of something else (`x.payload` is not the
# variable; a root-scoped `.payload` is), and the `.field` after it when there is
# one and it is not a method call.
_REFERENCE = re.compile(
    r"(?<![\w.])(?:\.\s*)?(" + "|".join(VARIABLES) + r")\b"
    r"(?:\s*\.\s*([A-Za-z_]\w*)\b(?!\s*\())?"
)

# Per variable: the fields read, or None when the whole map may be read.
Reads = dict[str, frozenset[str] | None]


def references(source: str) -> Reads:
    """What `source` may read. Over-approximates and never under-approximates:
    a variable used any way but `var.field` (indexing, `size(var)`, `k in var`,
    macros, a field name in a string) counts as read whole."""
    reads: Reads = {}
    for name, field in _REFERENCE.findall(source):
        if not field or reads.get(name, frozenset()) is None:
            reads[name] = None
        else:
            reads[name] = frozenset({field} | (reads.get(name) or frozenset()))
    return reads


def merge_reads(all_reads: list[Reads]) -> Reads:
    merged: Reads = {}
    for reads in all_reads:
        for name, fields in reads.items():
            if fields is None or merged.get(name, frozenset()) is None:
                merged[name] = None
            else:
                merged[name] = fields | (merged.get(name) or frozenset())
    return merged


_NOISE = re.compile(r"^(?:[A-Z_]+: )?(?:ERROR: )?(?:<input>:)?")


class CelCompileError(ValueError):
    """An expression does not parse, does not type-check, or is not boolean."""


@dataclass(frozen=True, slots=True)
class EvalError:
    """Why a condition produced no boolean for one input (missing key, bad type)."""

    message: str


@dataclass(frozen=True, slots=True)
class Bindings:
    """The variables of one evaluation, converted once and shared by every rule."""

    activation: Any


@lru_cache(maxsize=1)
def _env() -> Any:
    dyn_map = cel.Type.Map(cel.Type.STRING, cel.Type.DYN)
    return cel.NewEnv(variables=dict.fromkeys(VARIABLES, dyn_map))


def _first_line(message: str) -> str:
    line = message.strip().splitlines()[0] if message.strip() else "unknown CEL error"
    return _NOISE.sub("", line).strip()


class Condition:
    """A compiled boolean expression, ready to evaluate many times.

    `reads` says which variables, and which of their fields, it may read (see
    `references`), so callers can build only those: the runtime converts every
    entry of every map it is given, and that conversion is most of the cost.
    """

    __slots__ = ("_program", "reads", "source")

    def __init__(self, source: str, program: Any) -> None:
        self.source = source
        self._program = program
        self.reads: Reads = references(source)

    def evaluate(self, bindings: Bindings) -> bool | EvalError:
        try:
            value: Any = self._program.eval(bindings.activation).value()
        except Exception as exc:  # the binding raises for values CEL cannot hold
            return EvalError(_first_line(str(exc)))
        if value is True or value is False:
            return bool(value)
        # An error value carries its message as the plain value.
        return EvalError(_first_line(str(value)))

    def __repr__(self) -> str:
        return f"Condition({self.source!r})"


def compile_condition(source: str) -> Condition:
    """Parse and type-check `source`; it must be statically boolean.

    A `dyn` result (e.g. a bare `payload.flag`) is refused: the gate would only
    find out at evaluation time, so the author is asked to compare explicitly.
    """
    try:
        program: Any = _env().compile(source)
    except Exception as exc:
        raise CelCompileError(_first_line(str(exc))) from None
    result_type: str = str(program.return_type().name())
    if result_type != "BOOL":
        hint = " (compare explicitly, e.g. `payload.flag == true`)" if result_type == "DYN" else ""
        raise CelCompileError(f"the expression yields {result_type.lower()}, not bool{hint}")
    return Condition(source, program)


def bind(variables: Mapping[str, Any]) -> Bindings:
    """Convert one input's variables for the runtime. Keys must be `VARIABLES`."""
    return Bindings(_env().Activation(dict(variables)))


class Bitmask:
    """Several conditions evaluated in one runtime call, answered as one integer.

    Bit i is set when condition i holds. Crossing into the runtime and converting
    the input dominate the cost of a condition, so one call for all of a command's
    conditions is several times cheaper than one call each. If any condition
    errors the whole call errors, and the caller falls back to evaluating them
    one by one to find out which.
    """

    __slots__ = ("_programs", "size")

    # Bits per program: CEL integers are 64-bit and signed.
    CHUNK = 60

    def __init__(self, programs: tuple[Any, ...], size: int) -> None:
        self._programs = programs
        self.size = size

    def evaluate(self, variables: Mapping[str, Any]) -> int | EvalError:
        total = 0
        for chunk, program in enumerate(self._programs):
            try:
                value: Any = program.eval(data=variables).value()
            except Exception as exc:
                return EvalError(_first_line(str(exc)))
            if type(value) is not int:
                return EvalError(_first_line(str(value)))
            total |= value << (chunk * self.CHUNK)
        return total


def compile_bitmask(conditions: tuple[Condition, ...]) -> Bitmask | None:
    """One program per `Bitmask.CHUNK` conditions; None if the runtime refuses
    the combined expression (the caller then evaluates conditions one by one)."""
    programs = []
    for start in range(0, len(conditions), Bitmask.CHUNK):
        chunk = conditions[start : start + Bitmask.CHUNK]
        # Newlines keep a `//` comment in one condition from swallowing the rest.
        terms = " + ".join(f"((\n{c.source}\n) ? {1 << i} : 0)" for i, c in enumerate(chunk))
        try:
            programs.append(_env().compile(terms))
        except Exception:
            return None
    return Bitmask(tuple(programs), len(conditions))
