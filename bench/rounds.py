"""Alternating rounds and what comes out of them.

These machines' disks drift by 5x within minutes, so a ratio is only evidence
when its two sides ran side by side: every round runs each arm once (the
order rotated from round to round, so no arm always goes first), a ratio is
taken per round, and the figure reported is the median of those per-round
ratios with their min-max and interquartile range beside it.
"""

from __future__ import annotations

import inspect
import statistics
import sys
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

Arm = Callable[[], "float | Awaitable[float]"]
MIN_ROUNDS = 5


def spread(values: Sequence[float]) -> dict[str, float]:
    """Median, min, max and quartiles of `values`."""
    ordered = sorted(values)
    if len(ordered) >= 2:
        q1, _, q3 = statistics.quantiles(ordered, n=4, method="inclusive")
    else:
        q1 = q3 = ordered[0]
    return {"median": statistics.median(ordered), "min": ordered[0], "max": ordered[-1],
            "q1": q1, "q3": q3}


async def alternate(arms: dict[str, Arm], rounds: int, *, between: Arm | None = None,
                    log: bool = True) -> dict[str, list[float]]:
    """Run every arm once per round, `rounds` times; each arm's per-round values.

    An arm returns one figure for its round (a rate, a latency). `between`
    runs before every arm, untimed (e.g. letting background writes settle)."""
    if rounds < MIN_ROUNDS:
        raise SystemExit(f"at least {MIN_ROUNDS} rounds: ratios need a spread")
    names = list(arms)
    out: dict[str, list[float]] = {name: [] for name in names}
    for r in range(rounds):
        shift = r % len(names)
        for name in names[shift:] + names[:shift]:
            if between is not None:
                await _call(between)
            out[name].append(await _call(arms[name]))
        if log:
            shown = "  ".join(f"{n}={out[n][-1]:,.4g}" for n in names)
            print(f"  round {r + 1}/{rounds}: {shown}", file=sys.stderr, flush=True)
    return out


async def _call(arm: Arm) -> float:
    value = arm()
    if inspect.isawaitable(value):
        value = await value
    return float(value)


@dataclass
class Goal:
    op: str  # ">=" or "<="
    value: float

    def met(self, now: float) -> bool:
        return now >= self.value if self.op == ">=" else now <= self.value

    def __str__(self) -> str:
        return f"{'≥' if self.op == '>=' else '≤'} {self.value:g}"


def at_least(value: float) -> Goal:
    return Goal(">=", value)


def at_most(value: float) -> Goal:
    return Goal("<=", value)


@dataclass
class Row:
    """One reported figure: a ratio over rounds, or a measured value."""

    bench: str
    measure: str
    now: float
    unit: str = "×"
    goal: Goal | None = None
    spread: dict[str, float] = field(default_factory=dict)
    rounds: int = 0
    detail: dict[str, Any] = field(default_factory=dict)

    @property
    def met(self) -> bool | None:
        return None if self.goal is None else self.goal.met(self.now)

    def as_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["goal"] = None if self.goal is None else {"op": self.goal.op,
                                                      "value": self.goal.value}
        out["goal_text"] = "" if self.goal is None else str(self.goal)
        out["met"] = self.met
        return out


def ratio_row(bench: str, measure: str, subject: tuple[str, list[float]],
              baseline: tuple[str, list[float]], goal: Goal | None = None, *,
              unit: str = "", **detail: Any) -> Row:
    """The median of the per-round ratios subject ÷ baseline."""
    (s_name, s_values), (b_name, b_values) = subject, baseline
    ratios = [s / b for s, b in zip(s_values, b_values, strict=True)]
    stats = spread(ratios)
    return Row(bench, measure, stats["median"], "×", goal, stats, len(ratios), {
        "subject": s_name, "baseline": b_name, "unit": unit,
        "subject_median": statistics.median(s_values),
        "baseline_median": statistics.median(b_values),
        "ratios": [round(r, 4) for r in ratios], **detail})


def value_row(bench: str, measure: str, values: Sequence[float], unit: str,
              goal: Goal | None = None, **detail: Any) -> Row:
    stats = spread(values)
    return Row(bench, measure, stats["median"], unit, goal, stats, len(values), dict(detail))
